"""No answered call without its audit entry, under load and with a worker killed: the real gunicorn
(deploy/gunicorn.conf.py, 2 gthread workers on loopback) on SQLite and on PostgreSQL, 8 client threads sending
API predictions of real held-out TCGA samples, and one worker killed with SIGKILL in the middle (the master
starts another). Every request that was answered 200 has its `api.predict` entry (found by the request id the
test sent), no entry names a request the test did not send, entries without an answer are at most the calls
the killed worker had in hand, and the hash chain holds. Audit entries are group-committed
(portal.accounts.audit_writer), so this is what shows that an entry is durable before its answer leaves."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from portal.accounts import api_keys, audit_chain
from portal.core.db import Database
from portal.core.models import AuditEvent
from tests.helpers import ADMIN_EMAIL, DATA_USE, MODEL, PASSWORD, app_with_test_users, make_settings, user_of
from tests.local_servers import free_port, own_postgres_database, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
WORKERS, CLIENTS, CALLS = 2, 8, 480
KILL_AFTER = 120  # answered calls before a worker is killed
TIMEOUT = 20


def _worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory, models_root):
    """A gunicorn of this module's own on SQLite or a PostgreSQL database of its own; (url, key, db, master)."""
    folder = tmp_path_factory.mktemp(f"audit-load-{request.param}")
    with contextlib.ExitStack() as stack:
        database = (f"sqlite:///{folder / 'portal.db'}" if request.param == "sqlite"
                    else stack.enter_context(own_postgres_database("cancer_alpha_audit_load")))
        settings = make_settings(folder, database, models_root, api_rate_limit="100000 per minute")
        app = app_with_test_users(settings)  # migrated once, as the deployment's migration job does
        portal = app.server.extensions["cancer_alpha"]
        key = api_keys.create_key(portal.db, user_of(portal, "researcher").id, "load")[1]
        portal.db.dispose()
        port = free_port()
        env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(folder), "CANCER_ALPHA_DATABASE_URL": database,
               "CANCER_ALPHA_MODELS_DIR": str(models_root), "CANCER_ALPHA_DATA_DIR": str(settings.data_dir),
               "CANCER_ALPHA_SECRET_KEY": settings.secret_key, "CANCER_ALPHA_ADMIN_EMAIL": ADMIN_EMAIL,
               "CANCER_ALPHA_ADMIN_PASSWORD": PASSWORD, "CANCER_ALPHA_API_RATE_LIMIT": "100000 per minute",
               "CANCER_ALPHA_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(WORKERS)}
        env.pop("CANCER_ALPHA_REDIS_URL", None)
        log_path = folder / "gunicorn.log"
        with open(log_path, "w") as log:
            web = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "portal.wsgi:server"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        stack.callback(stop, web)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert web.poll() is None, log_path.read_text()[-3000:]
            try:
                up = requests.get(f"{url}/api/v1/ready", timeout=TIMEOUT).status_code == 200
            except requests.RequestException:
                return False
            return up and log_path.read_text().count("Booting worker") >= WORKERS

        wait_for(ready, "gunicorn's workers", seconds=90)
        db = Database(database)
        stack.callback(db.dispose)
        yield url, key, db, web.pid


def test_every_answered_call_has_its_entry_with_a_worker_killed(server, tcga, registry):
    url, key, db, master = server
    held_out = [{"features": {k: float(v) for k, v in tcga.X.loc[i].items()}} for i in registry.resolve(MODEL).test_ids]
    sent: list[str] = []
    answered: list[str] = []
    failed: list[str] = []
    lock = threading.Lock()
    killed: list[int] = []

    def client(k: int) -> None:
        http = requests.Session()  # kept alive: calls land on either worker
        for n in range(k, CALLS, CLIENTS):
            request_id = uuid.uuid4().hex
            with lock:
                sent.append(request_id)
            sample = {**held_out[n % len(held_out)], "id": f"load-{n}"}
            try:
                answer = http.post(f"{url}/api/v1/models/{MODEL}/predict", timeout=TIMEOUT,
                                   json={"samples": [sample], "data_use": DATA_USE},
                                   headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id})
                ok = answer.status_code == 200 and answer.json()["request_id"] == request_id
            except requests.RequestException:  # the killed worker's connections
                ok = False
                http.close()
                http = requests.Session()
            with lock:
                (answered if ok else failed).append(request_id)
                if len(answered) == KILL_AFTER and not killed:
                    victim = min(_worker_pids(master))
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert killed, "no worker was killed"
    assert killed[0] not in _worker_pids(master)
    with db.engine.connect() as connection:
        audited = list(connection.execute(select(AuditEvent.request_id)
                                          .where(AuditEvent.action == "api.predict")).scalars())
    assert len(audited) == len(set(audited))  # one entry per call
    assert set(answered) <= set(audited), f"{len(set(answered) - set(audited))} answered calls have no entry"
    assert set(audited) <= set(sent)
    # entries of calls that were written but never answered: only what the killed worker had in hand (each
    # client loses at most the call on its connection to that worker, then opens a new connection)
    assert len(set(audited) - set(answered)) <= len(failed) <= CLIENTS
    assert len(answered) >= CALLS - CLIENTS
    verdict = audit_chain.verify(db.engine)
    assert verdict.ok, verdict.broken
