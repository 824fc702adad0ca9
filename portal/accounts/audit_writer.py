"""Group commit of audit entries, one writer per process.

A request hands its entry to the writer and waits; the writer thread appends every entry that gathered
while it was writing the last ones in one transaction (portal.accounts.audit_chain.append_rows: the hash
chain in order), then releases their requests. So no request is answered before its entry is committed,
and a process killed at any moment loses no entry of a request it answered. Under load the entries of
concurrent requests share one transaction, one lock and one commit: on SQLite an entry costs about a fifth
of the CPU it took alone, on PostgreSQL a round trip per batch instead of five per entry.

Nobody waits on purpose: a batch is whatever arrived during the previous write. The thread ends after
IDLE_SECONDS without entries (it is started again by the next one, and after a fork in the child, which
inherits no threads), so an idle portal, or a test's, holds no thread and no database connection."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from portal.accounts import audit_chain

log = logging.getLogger(__name__)
IDLE_SECONDS = 2.0
MAX_BATCH = 256
WAIT_SECONDS = 60.0  # longer than any sane commit: past it the request fails rather than hang


class AuditNotWritten(RuntimeError):
    """The writer did not confirm the entry in time."""


@dataclass
class _Pending:
    row: dict
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AuditWriter:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: list[_Pending] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.batches = 0  # transactions written, and entries in them: for benchmarks and tests
        self.entries = 0

    def append(self, row: dict) -> None:
        """Add the entry to the chain; returns once it is committed, raises what the write raised."""
        pending = _Pending(row)
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread and queue are not ours
                self._pid, self._thread, self._queue = os.getpid(), None, []
            self._queue.append(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            else:
                self._arrived.notify()
        if not pending.done.wait(WAIT_SECONDS):
            raise AuditNotWritten(f"the audit entry was not written within {WAIT_SECONDS:.0f} s")
        if pending.error is not None:
            raise pending.error

    def _run(self) -> None:
        connection: Connection | None = None
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._arrived.wait(IDLE_SECONDS)
                    if not self._queue:
                        self._thread = None  # under the lock: the next append starts a new thread
                        return
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                connection = self._write(connection, batch)
        finally:
            if connection is not None:
                connection.close()

    def _write(self, connection: Connection | None, batch: list[_Pending]) -> Connection | None:
        """Write the batch on the kept connection; on a failure write each entry alone on a new one, so
        one bad entry or a dropped connection fails no other request. Returns the connection to keep."""
        try:
            connection = connection or self._engine.connect()
            with connection.begin():
                audit_chain.append_rows(connection, [p.row for p in batch])
            self.batches, self.entries = self.batches + 1, self.entries + len(batch)
        except Exception:
            log.warning("an audit batch of %d failed; writing its entries one by one", len(batch), exc_info=True)
            if connection is not None:
                connection.invalidate()
                connection.close()
            connection = None
            for pending in batch:
                try:
                    audit_chain.append(self._engine, pending.row)
                except BaseException as error:  # handed to the waiting request, which answers an error
                    pending.error = error
        for pending in batch:
            pending.done.set()
        return connection
