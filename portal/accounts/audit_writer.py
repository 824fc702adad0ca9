"""Group commit of audit entries, one writer per process, led by the requests themselves.

A request that records an entry while no other is writing writes it at once, itself, on the process's kept
connection. Entries that arrive while a write is going on queue; when it ends, the writer wakes them and one of
those still unwritten leads the next write, of every entry queued by then, in one transaction
(portal.accounts.audit_chain.append_rows: the hash chain in order), for all of them. So no request is answered
before its entry is committed, and a process killed at any moment loses no entry of a request it answered.
Under load concurrent requests share one transaction, one lock and one commit (on PostgreSQL a round trip per
batch instead of five per entry); without concurrency nothing waits and no thread is woken. (A writer thread
that requests handed their entries to cost two thread wake-ups per request, about a tenth of the API's CPU.)"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from portal.accounts import audit_chain

log = logging.getLogger(__name__)
MAX_BATCH = 256
WAIT_SECONDS = 60.0  # longer than any sane commit: past it the request fails rather than hang


class AuditNotWritten(RuntimeError):
    """No write took the entry in time."""


@dataclass
class _Pending:
    row: dict
    done: bool = False
    error: BaseException | None = None


class AuditWriter:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._connection: Connection | None = None  # used by the leading request only, kept between writes
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)
        self._queue: list[_Pending] = []
        self._writing = False
        self._pid = os.getpid()
        self.batches = 0  # transactions written, and entries in them: for benchmarks and tests
        self.entries = 0

    def append(self, row: dict) -> None:
        """Add the entry to the chain; returns once it is committed, raises what the write raised."""
        pending = _Pending(row)
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's queue and connection are not its own
                self._pid, self._queue, self._writing, self._connection = os.getpid(), [], False, None
            self._queue.append(pending)
        while self._lead_or_wait(pending):
            pass
        if pending.error is not None:
            raise pending.error

    def _lead_or_wait(self, pending: _Pending) -> bool:
        """Wait while another request writes; if the entry is still unwritten then, write what is queued.
        True while the entry is not written yet (more than MAX_BATCH were queued before it)."""
        with self._lock:
            while not pending.done and self._writing:
                if not self._written.wait(WAIT_SECONDS):
                    raise AuditNotWritten(f"the audit entry was not written within {WAIT_SECONDS:.0f} s")
            if pending.done:
                return False
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._writing = True
        try:
            self._write(batch)
        finally:
            with self._lock:
                for written in batch:
                    written.done = True
                self._writing = False
                self._written.notify_all()
        return not pending.done

    def _write(self, batch: list[_Pending]) -> None:
        """Write the batch on the kept connection; on a failure write each entry alone on a new one, so
        one bad entry or a dropped connection fails no other request."""
        try:
            self._connection = self._connection or self._engine.connect()
            with audit_chain.appending(self._engine), self._connection.begin():
                audit_chain.append_rows(self._connection, [p.row for p in batch])
            self.batches, self.entries = self.batches + 1, self.entries + len(batch)
        except Exception:
            log.warning("an audit batch of %d failed; writing its entries one by one", len(batch), exc_info=True)
            if self._connection is not None:
                self._connection.invalidate()
                self._connection.close()
                self._connection = None
            for pending in batch:
                try:
                    audit_chain.append(self._engine, pending.row)
                except BaseException as error:  # handed to the waiting request, which answers an error
                    pending.error = error
