"""The audit trail's hash chain on SQLite and PostgreSQL: entries chained as they are written, by
concurrent writers too; `audit verify` names the first entry changed, deleted or forged in place; the
migration chains the entries written before it. The entries are made-up test events; the changes are made
the way someone with the database's own access would make them."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from sqlalchemy import delete, func, insert, select, text, update

from engine.settings import PROJECT_ROOT as ROOT
from portal.accounts import audit, audit_chain
from portal.accounts.audit_writer import AuditWriter
from portal.core.db import Database
from portal.core.models import AuditEvent, utcnow


def _record(db, n: int, actor: str = "tester@example.org") -> None:
    for k in range(n):
        audit.record("test.event", target=f"thing-{k}", details={"k": k, "note": "made-up"}, actor=actor, db=db)


def _in_threads(work, count: int) -> None:
    """work(0) ... work(count - 1), each on a thread of its own, all at once; returns when all are done."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def tampered(statement):
    """An UPDATE or DELETE as someone with the database's own access makes it, outside the portal (the
    portal itself refuses them: test_audit_append_only.py)."""
    return statement.execution_options(**{audit_chain.APPENDING: True})


def _ids(db) -> list[int]:
    with db.engine.connect() as connection:
        return list(connection.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


def test_entries_are_chained_and_verify_names_what_was_changed_or_deleted(migrated_db):
    db = migrated_db
    _record(db, 6)
    verdict = audit_chain.verify(db.engine)
    assert verdict.ok and verdict.entries == 6
    ids = _ids(db)
    with db.engine.begin() as connection:  # someone edits an entry in the database itself
        connection.execute(tampered(update(AuditEvent).where(AuditEvent.id == ids[2]).values(details={"k": 99})))
    verdict = audit_chain.verify(db.engine)
    assert not verdict.ok and verdict.broken.entry_id == ids[2] and "fields were changed" in str(verdict.broken)
    with db.engine.begin() as connection:  # put it back (the hash still matches the original fields)
        connection.execute(tampered(update(AuditEvent).where(AuditEvent.id == ids[2])
                                    .values(details={"k": 2, "note": "made-up"})))
    assert audit_chain.verify(db.engine).ok
    with db.engine.begin() as connection:  # and deletes one
        connection.execute(tampered(delete(AuditEvent).where(AuditEvent.id == ids[4])))
    broken = audit_chain.verify(db.engine).broken
    assert broken.entry_id == ids[5] and f"does not follow entry {ids[3]}" in str(broken)


def test_an_entry_forged_in_place_with_a_valid_own_hash_breaks_the_next_link(migrated_db):
    db = migrated_db
    _record(db, 4)
    ids = _ids(db)
    with db.engine.begin() as connection:
        victim = connection.execute(select(AuditEvent).where(AuditEvent.id == ids[1])).mappings().one()
        forged = {name: victim[name] for name in audit_chain.HASHED} | {"actor": "someone-else@example.org"}
        connection.execute(tampered(update(AuditEvent).where(AuditEvent.id == ids[1]).values(
            actor=forged["actor"], hash=audit_chain.entry_hash(forged, victim["prev_hash"]))))
    broken = audit_chain.verify(db.engine).broken
    assert broken.entry_id == ids[2] and f"does not follow entry {ids[1]}" in str(broken)
    with db.engine.begin() as connection:  # a row slipped in without the audit trail's code
        connection.execute(insert(AuditEvent), {"at": utcnow(), "actor": "x", "action": "forged", "outcome": "ok",
                                                "details": {}})
    with db.engine.begin() as connection:
        connection.execute(tampered(delete(AuditEvent).where(AuditEvent.id.in_(ids))))
    broken = audit_chain.verify(db.engine).broken
    assert "it has no hash" in str(broken)


def test_concurrent_writers_never_fork_the_chain(migrated_db):
    db, writers, each = migrated_db, 4, 25
    errors = []

    def write(who: int) -> None:
        try:
            _record(db, each, actor=f"writer-{who}@example.org")
        except Exception as error:  # reported below: a lost entry or a lock error fails the test
            errors.append(error)

    _in_threads(write, writers)
    assert errors == []
    verdict = audit_chain.verify(db.engine)
    assert verdict.ok and verdict.entries == writers * each
    with db.engine.connect() as connection:  # every entry names a different predecessor: one chain
        links = connection.execute(select(func.count(func.distinct(AuditEvent.prev_hash)))).scalar()
    assert links == writers * each


def _row(actor: str, k: int, user_id: int | None = None) -> dict:
    return dict(at=utcnow(), action="test.event", outcome="ok", target=f"thing-{k}", details={"k": k, "note": "made-up"},
                user_id=user_id, actor=actor, ip=None, request_id=None)


def test_group_committed_entries_stay_one_chain_with_other_writers(migrated_db):
    """Two writers (as two gunicorn workers would have) and plain appends (as the Celery worker makes),
    from 12 threads at once: every entry is written once, in one unbroken chain, and the writers put
    several entries in one transaction."""
    db = migrated_db
    writers = [AuditWriter(db.engine), AuditWriter(db.engine)]
    each, errors = 20, []

    def write(who: int) -> None:
        try:
            for k in range(each):
                row = _row(f"thread-{who}@example.org", k)
                if who < 10:
                    writers[who % 2].append(row)
                else:
                    audit_chain.append(db.engine, row)
        except Exception as error:  # reported below
            errors.append(error)

    _in_threads(write, 12)
    assert errors == []
    verdict = audit_chain.verify(db.engine)
    assert verdict.ok and verdict.entries == 12 * each
    assert sum(w.entries for w in writers) == 10 * each
    assert sum(w.batches for w in writers) < 10 * each  # some transactions held several entries


def test_a_failing_entry_fails_only_its_own_request(migrated_db):
    """An entry the database refuses (a user id that does not exist: a foreign key) raises in the request
    that handed it in; the entries batched with it are written."""
    db, writer = migrated_db, AuditWriter(migrated_db.engine)
    outcomes: dict[int, str] = {}
    start = threading.Barrier(6)

    def write(k: int) -> None:
        start.wait()
        try:
            writer.append(_row("batch@example.org", k, user_id=987_654 if k == 3 else None))
            outcomes[k] = "written"
        except Exception as error:
            outcomes[k] = type(error).__name__

    _in_threads(write, 6)
    assert outcomes.pop(3) == "IntegrityError"
    assert set(outcomes.values()) == {"written"}
    verdict = audit_chain.verify(db.engine)
    assert verdict.ok and verdict.entries == 5


def test_the_migration_chains_the_entries_written_before_it(database_url):
    db = Database(database_url)
    try:
        db.upgrade("0002")
        with db.engine.begin() as connection:
            for k in range(3):
                connection.execute(text("INSERT INTO audit_events (at, actor, action, outcome, details) "
                                        "VALUES (:at, 'old@example.org', 'old.event', 'ok', :details)"),
                                   {"at": utcnow().replace(tzinfo=None), "details": f'{{"k": {k}}}'})
        db.upgrade()
        _record(db, 2)
        verdict = audit_chain.verify(db.engine)
        assert verdict.ok and verdict.entries == 5
    finally:
        db.dispose()


def test_audit_verify_on_the_command_line(migrated_db, tmp_path):
    db = migrated_db
    _record(db, 3)
    env = {**os.environ, "CANCER_ALPHA_DATABASE_URL": db.url, "CANCER_ALPHA_VAR_DIR": str(tmp_path)}

    def verify():
        return subprocess.run([sys.executable, "-m", "portal", "audit", "verify"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    held = verify()
    assert held.returncode == 0 and "3 entries" in held.stdout
    assert audit_chain.verify(db.engine).head in held.stdout
    last = _ids(db)[-1]
    with db.engine.begin() as connection:
        connection.execute(tampered(update(AuditEvent).where(AuditEvent.id == last).values(outcome="denied")))
    broken = verify()
    assert broken.returncode == 1 and f"broken at entry {last}: its fields were changed" in broken.stderr


def test_an_entry_queued_behind_a_full_batch_is_still_written(migrated_db, monkeypatch):
    """More entries waiting than one transaction takes: the request whose entry is past the batch writes again."""
    from portal.accounts import audit_writer

    monkeypatch.setattr(audit_writer, "MAX_BATCH", 2)
    writer, errors = AuditWriter(migrated_db.engine), []
    start = threading.Barrier(9)

    def write(k: int) -> None:
        start.wait()
        try:
            writer.append(_row("queued@example.org", k))
        except Exception as error:  # reported below
            errors.append(error)

    _in_threads(write, 9)
    assert errors == [] and not writer._queue
    verdict = audit_chain.verify(migrated_db.engine)
    assert verdict.ok and verdict.entries == 9 == writer.entries
