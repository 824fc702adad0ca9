"""The API's verified keys, kept in each process while the credential generation stands still.

Each request reads one row, `credential_generation` (migration 0010: database triggers count it up in the same
transaction as any change to an API key, or to a user's role, state or e-mail, whoever makes the change). When
it has not moved since this process read a key's row, the kept answer holds and the presented key is only
hashed and compared; else the key's row is read again. So a revocation, a deactivation or a role change takes
effect on the next request in every worker, as when every request read the key's row.

The generation is read on database connections kept for the purpose (ReadConnections): a pooled checkout
costs more than the read itself (on PostgreSQL the pool pings and rolls back each checkout: 190 µs of CPU
against 47 µs for the query on a kept connection; on SQLite 19 against 4)."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from engine.caching import BoundedCache
from portal.accounts import api_keys
from portal.accounts.api_keys import KeyOwner, KeyState
from portal.core.db import Database

log = logging.getLogger(__name__)
GENERATION_SQL = "SELECT value FROM credential_generation WHERE id = 1"
KEPT_KEYS = 10_000
KEPT_CONNECTIONS = 8  # idle read connections a process keeps: one per thread that reads at once


class ReadConnections:
    """Database connections of one process for single-row reads outside any transaction (PostgreSQL in
    autocommit; SQLite's driver opens no transaction for a SELECT), taken out of the engine's pool for good
    so that a read costs one round trip. A connection that fails is closed and the read raises."""

    def __init__(self, engine: Engine, keep: int = KEPT_CONNECTIONS):
        self._engine, self._keep = engine, keep
        self._idle: list = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._inherited: list = []  # a forked child's copies of its parent's connections: never closed here

    def scalar(self, sql: str):
        connection = self._take()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            row = cursor.fetchone()
            cursor.close()
        except Exception:
            connection.invalidate()
            raise
        self._give_back(connection)
        return None if row is None else row[0]

    def _take(self):
        with self._lock:
            if self._pid != os.getpid():  # closing them here would end the parent's sessions
                self._pid, self._inherited, self._idle = os.getpid(), self._inherited + self._idle, []
            if self._idle:
                return self._idle.pop()
        connection = self._engine.raw_connection()
        if self._engine.dialect.name == "postgresql":
            connection.driver_connection.autocommit = True
        connection.detach()  # ours now: closing it closes it, it never goes back to the pool
        return connection

    def _give_back(self, connection) -> None:
        with self._lock:
            if len(self._idle) < self._keep and self._pid == os.getpid():
                self._idle.append(connection)
                return
        connection.close()


@dataclass(frozen=True)
class _Kept:
    generation: int
    state: KeyState


class VerifiedKeys:
    """The owner of a presented key, or None when the key is malformed, unknown, wrong, revoked, or its user
    is deactivated, as the database says now: from what this process kept while the generation has not
    moved, else from the key's row (portal.accounts.api_keys.key_state)."""

    def __init__(self, db: Database):
        self._db = db
        self._reads = ReadConnections(db.engine)
        self._unreadable = False  # the generation could not be read last time: said once, not per request
        self._kept: BoundedCache = BoundedCache(KEPT_KEYS)  # prefix -> _Kept (known prefixes only)
        self.uses: BoundedCache = BoundedCache(KEPT_KEYS)  # when this process last wrote a key's last_used_at

    def generation(self) -> int | None:
        """The credential generation now, or None when it cannot be read (then nothing kept is used)."""
        try:
            value = self._reads.scalar(GENERATION_SQL)
        except Exception as error:
            value = None
            if not self._unreadable:
                log.warning("credential generation unreadable (%s: %s): API keys are read from the database per "
                            "request until it is", type(error).__name__, error)
        self._unreadable = value is None
        return value

    def authenticate(self, presented: str) -> KeyOwner | None:
        prefix = api_keys.well_formed_prefix(presented)
        if prefix is None:
            return None
        generation = self.generation()  # before the row: a change after this read moves it again
        kept = self._kept.get(prefix)
        if kept is not None and generation is not None and kept.generation == generation:
            state = kept.state
        else:
            state = api_keys.key_state(self._db, prefix)
            if state is None:  # no such key: nothing kept, so made-up prefixes fill nothing
                return None
            if generation is not None:
                self._kept.put(prefix, _Kept(generation, state))
        owner = state.owner_of(presented)
        if owner is not None:
            api_keys.touch(self._db, owner, self.uses)
        return owner
