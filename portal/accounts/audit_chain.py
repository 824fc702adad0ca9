"""The audit trail's hash chain: each entry stores a sha256 over its own fields and the previous entry's
hash, so an entry changed, deleted or inserted out of order in the database breaks the chain at that
point, and `python -m portal audit verify` names it.

Appends are serialised, so that writers in several processes (gunicorn workers, the Celery worker) never
fork the chain: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by an exclusive file lock beside
the database (`<database>.audit-lock`, flock) held around the transaction. With its turn, an append reads the
newest entry's hash and inserts its entries with their hashes worked out in order, in one statement; several
entries can share the transaction (a group commit: portal.accounts.audit_writer). The statements are built once:
building them per entry cost more than running them. (SQLite's own write lock would serialise them too, but
SQLite makes a writer that finds it taken sleep and retry, 1, 2, 5, 10, 20... ms: two gunicorn workers auditing
every API call spent much of their time asleep, the processors 40% idle under load; the kernel wakes a flock
waiter as soon as the holder lets go.)

Entries are append-only in the portal: any UPDATE or DELETE statement on audit_events, and any change or
deletion of an AuditEvent through an ORM session, raises AppendOnly, except the statements marked APPENDING
(migration 0003's chaining of the entries written before it). (Someone with the database's own access can still
change rows: verify finds it.)"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import Delete, Update, event, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from portal.core.models import AuditEvent

GENESIS = "0" * 64  # the "previous hash" of the first entry
HASHED = ("at", "user_id", "actor", "action", "target", "outcome", "details", "ip")
# fields added later, hashed only when set: the entries chained before they existed keep their hashes
HASHED_WHEN_SET = ("request_id",)  # migration 0008
ADVISORY_LOCK = 0x41554449  # "AUDI": the PostgreSQL advisory lock key that serialises appends
VERIFY_BATCH = 5_000
APPENDING = "cancer_alpha_audit_append"  # the execution option that marks a statement chaining entries


class AppendOnly(RuntimeError):
    """Something in the portal tried to change or delete an audit entry."""


@event.listens_for(Engine, "before_execute")
def _refuse_statements(_connection, statement, _multiparams, _params, execution_options):
    if (isinstance(statement, (Update, Delete)) and getattr(statement.table, "name", None) == AuditEvent.__tablename__
            and not execution_options.get(APPENDING) and not statement.get_execution_options().get(APPENDING)):
        raise AppendOnly(f"audit entries are append-only: refused {type(statement).__name__.upper()} on "
                         f"{AuditEvent.__tablename__}")


@event.listens_for(Session, "before_flush")
def _refuse_flushes(session, _context, _instances):
    touched = [e for e in (*session.dirty, *session.deleted) if isinstance(e, AuditEvent)]
    if touched:
        raise AppendOnly(f"audit entries are append-only: refused a change to entry {touched[0].id}")


def _canonical_time(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def entry_hash(fields: dict, previous: str) -> str:
    """sha256 over the entry's fields (in a fixed, canonical form) and the previous entry's hash."""
    canonical = {name: fields.get(name) for name in HASHED}
    canonical["at"] = _canonical_time(canonical["at"])
    canonical["details"] = canonical["details"] or {}
    canonical.update({name: fields[name] for name in HASHED_WHEN_SET if fields.get(name) is not None})
    body = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


_INSERT = insert(AuditEvent)
_HEAD_HASH = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def append(engine: Engine, row: dict) -> None:
    """Add one entry to the end of the chain, in one transaction."""
    with appending(engine), engine.begin() as connection:
        append_rows(connection, [row])


@contextlib.contextmanager
def appending(engine: Engine):
    """Hold this process's turn to append on SQLite (the flock above); on PostgreSQL append_rows takes the
    advisory lock inside the transaction. Every append_rows runs inside it."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.audit-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_rows(connection: Connection, rows: list[dict]) -> None:
    """Add entries to the end of the chain in this order, inside the connection's transaction (the caller
    commits: every entry or none) and inside `appending` on SQLite."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK, {"key": ADVISORY_LOCK})
    previous = connection.execute(_HEAD_HASH).scalar() or GENESIS
    chained = []
    for row in rows:
        own = entry_hash(row, previous)
        chained.append({**row, "prev_hash": previous, "hash": own})
        previous = own
    connection.execute(_INSERT, chained if len(chained) > 1 else chained[0])


@dataclass(frozen=True)
class Break:
    """Where the chain stops holding, and why, in words."""

    entry_id: int
    reason: str

    def __str__(self) -> str:
        return f"entry {self.entry_id}: {self.reason}"


@dataclass(frozen=True)
class Verdict:
    entries: int  # how many entries were checked
    broken: Break | None  # the first place the chain does not hold
    head: str = GENESIS  # the newest entry's hash, when the chain holds: note it elsewhere to detect a cut

    @property
    def ok(self) -> bool:
        return self.broken is None


def _rows(engine: Engine) -> Iterator[dict]:
    """Every entry in id order, a batch at a time (bounded memory on a long trail)."""
    last = 0
    columns = [AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash,
               *(getattr(AuditEvent, n) for n in HASHED + HASHED_WHEN_SET)]
    while True:
        with engine.connect() as connection:
            batch = connection.execute(select(*columns).where(AuditEvent.id > last)
                                       .order_by(AuditEvent.id).limit(VERIFY_BATCH)).mappings().all()
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


def verify(engine: Engine) -> Verdict:
    """Walk the chain from the first entry; the first entry whose fields no longer give its hash was
    changed; one whose link does not name the entry before it follows a deletion, an insertion or a
    reordering."""
    previous_hash, previous_id, count = GENESIS, None, 0
    for row in _rows(engine):
        count += 1
        if row["hash"] is None or row["prev_hash"] is None:
            return Verdict(count, Break(row["id"], "it has no hash: it was written outside the audit trail"))
        if entry_hash(row, row["prev_hash"]) != row["hash"]:
            return Verdict(count, Break(row["id"], "its fields were changed after it was written"))
        if row["prev_hash"] != previous_hash:
            where = f"entry {previous_id}" if previous_id is not None else "the start of the trail"
            return Verdict(count, Break(row["id"], f"it does not follow {where}: an entry between them was "
                                                   f"deleted, or one was inserted or moved"))
        previous_hash, previous_id = row["hash"], row["id"]
    return Verdict(count, None, previous_hash)
