"""What the tests that start real servers on loopback share: a free port, a bounded wait, a stop by PID, and a
PostgreSQL database of a module's own."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text

from tests.helpers import POSTGRES_URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen, seconds: float = 20) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if the process has not ended within `seconds`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(check, what: str, seconds: float = 30):
    """check()'s first true value, polled every 0.25 s; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.25)


@contextlib.contextmanager
def own_postgres_database(prefix: str) -> Iterator[str]:
    """A new database on the test PostgreSQL server (`<prefix>_<random>`), its URL, dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.url.set(database=name).render_as_string(hide_password=False)
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        server.dispose()
