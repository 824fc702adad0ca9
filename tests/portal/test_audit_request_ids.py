"""Request ids (portal.request_ids): every answer carries one in X-Request-Id (a well-formed incoming one
kept, anything else replaced), the audit entry of the request stores the same, the API's JSON reports
it, a background job's entries carry the id of the request that started it, and the hash chain covers
it, while the entries chained before migration 0008 still verify. Accounts and audit events are made
up; the API's samples are real held-out TCGA samples."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from portal import request_ids
from portal.accounts import api_keys, audit, audit_chain
from portal.core.db import Database
from portal.core.models import AuditEvent, utcnow
from tests.helpers import DATA_USE, MODEL, auth, email_of, user_of
from tests.portal.test_audit_chain import tampered

NEW_ID = re.compile(r"[0-9a-f]{32}")


def _entries(db, after: int = 0) -> list:
    with db.engine.connect() as connection:
        return connection.execute(select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)).all()


def _newest(db) -> int:
    entries = _entries(db)
    return entries[-1].id if entries else 0


def test_every_answer_carries_a_request_id(app):
    client = app.server.test_client()
    first, second = client.get("/login"), client.get("/login")
    assert NEW_ID.fullmatch(first.headers["X-Request-Id"]) and NEW_ID.fullmatch(second.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    redirected = client.get("/runs")  # the sign-in guard answers this one itself
    assert redirected.status_code == 302 and NEW_ID.fullmatch(redirected.headers["X-Request-Id"])
    for kept in ("proxy-7f3a.b_c:d", "a" * 64, "0e5b3c4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"):
        assert client.get("/login", headers={"X-Request-Id": kept}).headers["X-Request-Id"] == kept
    for malformed in ("a" * 65, "two words", "x;drop", "<script>", "é", "id\ttab", ""):
        answered = client.get("/login", headers={"X-Request-Id": malformed}).headers["X-Request-Id"]
        assert NEW_ID.fullmatch(answered), malformed
    assert NEW_ID.fullmatch(client.get("/api/v1/nothing-here").headers["X-Request-Id"])  # errors too


def test_a_sign_in_entry_holds_the_request_id_of_its_request(app, db):
    client = app.server.test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    before = _newest(db)
    answer = client.post("/login", data={"email": email_of("analyst"), "password": "not the password",
                                         "csrf": csrf}, headers={"X-Request-Id": "req-sign-in-1"})
    assert answer.status_code == 401 and answer.headers["X-Request-Id"] == "req-sign-in-1"
    (entry,) = _entries(db, before)
    assert (entry.action, entry.outcome, entry.request_id, entry.ip) == ("sign-in", "failed", "req-sign-in-1",
                                                                          "127.0.0.1")


def test_the_api_reports_the_request_id_of_the_header_and_the_audit_entry(app, db, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    _, key = api_keys.create_key(db, user_of(portal, "clinician").id, "request id test")
    sample = registry.resolve(MODEL).test_ids[0]
    body = {"samples": [{"id": sample, "features": {k: float(v) for k, v in tcga.X.loc[sample].items()}}],
            "data_use": DATA_USE}
    client = app.server.test_client()
    for given in ("caller-chosen-42", None):
        before = _newest(db)
        headers = auth(key) | ({"X-Request-Id": given} if given else {})
        answer = client.post(f"/api/v1/models/{MODEL}/predict", json=body, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        header = answer.headers["X-Request-Id"]
        assert answer.json["request_id"] == header == (given or header)
        (entry,) = [e for e in _entries(db, before) if e.action == "api.predict"]
        assert entry.request_id == header


def test_a_background_jobs_entries_carry_the_request_that_started_it(migrated_db):
    with request_ids.started_by("req-started-the-job", "192.0.2.7"):
        audit.record("test.job", target="made-up", db=migrated_db)
    with request_ids.started_by("not a well-formed id", None):
        audit.record("test.job", target="made-up", db=migrated_db)
    audit.record("test.command", target="made-up", db=migrated_db)  # a command: no request at all
    started, malformed, command = _entries(migrated_db)
    assert (started.request_id, started.ip) == ("req-started-the-job", "192.0.2.7")
    assert (malformed.request_id, malformed.ip) == (None, None)
    assert (command.request_id, command.ip) == (None, None)
    assert audit_chain.verify(migrated_db.engine).ok


def _set(db, entry_id: int, **values) -> None:
    with db.engine.begin() as connection:
        connection.execute(tampered(update(AuditEvent).where(AuditEvent.id == entry_id).values(**values)))


def test_the_chain_covers_the_request_id_and_entries_from_before_it_still_verify(database_url):
    db = Database(database_url)
    try:
        db.upgrade("0007")  # entries chained before request ids existed
        for k in range(3):
            audit_chain.append(db.engine, dict(at=utcnow(), action="old.event", outcome="ok", target=f"old-{k}",
                                               details={"k": k}, user_id=None, actor="old@example.org", ip=None))
        db.upgrade()
        with request_ids.started_by("req-new-1", "192.0.2.1"):
            audit.record("new.event", target="new", db=db)
        audit.record("new.event", target="no request", db=db)
        old, _, _, new, no_request = _entries(db)
        assert old.request_id is None and new.request_id == "req-new-1"
        verdict = audit_chain.verify(db.engine)
        assert verdict.ok and verdict.entries == 5
        for entry, forged in ((new, "req-forged"), (new, None), (old, "req-added-later"), (no_request, "req-x")):
            _set(db, entry.id, request_id=forged)
            broken = audit_chain.verify(db.engine).broken
            assert broken.entry_id == entry.id and "fields were changed" in str(broken), (entry.target, forged)
            _set(db, entry.id, request_id=entry.request_id)  # put back: the chain holds again
            assert audit_chain.verify(db.engine).ok
    finally:
        db.dispose()


@pytest.mark.parametrize("value, kept", [("abc", True), ("A-1_b.c:d", True), ("x" * 64, True), ("x" * 65, False),
                                         ("a b", False), ("a\n", False), (None, False), (42, False)])
def test_which_incoming_ids_are_kept(value, kept):
    assert request_ids.accepted(value) == (value if kept else None)
