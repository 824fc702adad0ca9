"""Group commit of audit entries, one writer per process.

A request hands its entry to the writer and waits; the writer thread appends every entry that gathered
while it was writing the last ones in one transaction (portal.accounts.audit_chain.append_rows: the hash
chain in order), then releases their requests. So no request is answered before its entry is committed,
and a process killed at any moment loses no entry of a request it answered. Under load the entries of
concurrent requests share one transaction, one lock and one commit: on SQLite an entry costs about a fifth
of the CPU it took alone, on PostgreSQL a round trip per batch instead of five per entry.

The thread (portal.batching) ends after IDLE_SECONDS without entries, and with it the connection it kept."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from portal.accounts import audit_chain
from portal.batching import BatchingThread

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
        self._connection: Connection | None = None  # the writer thread's, kept between batches
        self._batches = BatchingThread(self._write, "audit-writer", MAX_BATCH, IDLE_SECONDS, self._close)
        self.batches = 0  # transactions written, and entries in them: for benchmarks and tests
        self.entries = 0

    def append(self, row: dict) -> None:
        """Add the entry to the chain; returns once it is committed, raises what the write raised."""
        pending = _Pending(row)
        self._batches.submit(pending)
        if not pending.done.wait(WAIT_SECONDS):
            raise AuditNotWritten(f"the audit entry was not written within {WAIT_SECONDS:.0f} s")
        if pending.error is not None:
            raise pending.error

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
            self._close()
            for pending in batch:
                try:
                    audit_chain.append(self._engine, pending.row)
                except BaseException as error:  # handed to the waiting request, which answers an error
                    pending.error = error
        for pending in batch:
            pending.done.set()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
