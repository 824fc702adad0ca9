"""The audit trail as CSV, for admins: the entries a filter picks (portal.accounts.audit.Filters), oldest
first, read and written a batch at a time so that a long trail never sits in memory. Shared by the Admin
page's "Download CSV" (a streamed response of `create_blueprint`'s route) and `python -m portal audit
export`; each export is itself audited (`audit-export`).

A cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return) is
prefixed with a single quote (OWASP, CSV injection): targets and actors hold text that callers chose,
such as the e-mail typed at a failed sign-in."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Mapping, TextIO

import flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from portal.accounts import audit
from portal.accounts.permissions import require
from portal.core import context
from portal.core.models import AuditEvent
from portal.core.states import AuditOutcome

COLUMNS = ("id", "at", "user_id", "actor", "action", "target", "outcome", "ip", "request_id", "details", "hash")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1_000
MAX_TEXT = 255  # characters of a text filter (an action, a target's text, an e-mail)
USER_ID = re.compile(r"[0-9]{1,9}")  # ASCII digits an INTEGER column holds
ACTION = "audit-export"
PERMISSION = "view_audit"
DOWNLOAD_PATH = "/admin/audit.csv"


class FilterError(ValueError):
    """A filter that cannot be read; the message names it and says what it takes."""


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def moment(value: str | None, field: str, end: bool = False) -> datetime | None:
    """A bound of the time range: `YYYY-MM-DD` (from midnight UTC; as the end, through that whole day) or
    an ISO date and time (UTC unless it names a zone)."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time.min, tzinfo=timezone.utc)
            return start + timedelta(days=1) if end else start
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{field}: {value[:40]!r} is not a date (YYYY-MM-DD) or an ISO date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _text(value: str | None, field: str) -> str | None:
    if value is not None and len(value) > MAX_TEXT:
        raise FilterError(f"{field}: at most {MAX_TEXT} characters (it has {len(value)})")
    return value or None


def filters(*, user_id=None, actor=None, action=None, outcome=None, since=None, until=None,
            target=None) -> audit.Filters:
    """Filters from what a person gave (text, or a user id); FilterError names the one that is wrong."""
    if user_id not in (None, "") and not USER_ID.fullmatch(str(user_id)):  # not isdigit(): it takes "²"
        raise FilterError(f"user: {str(user_id)[:40]!r} is not a user id")
    if outcome and outcome not in set(AuditOutcome):
        raise FilterError(f"outcome: {outcome[:40]!r} is not one of {', '.join(AuditOutcome)}")
    chosen = audit.Filters(user_id=int(user_id) if user_id not in (None, "") else None, actor=_text(actor, "user"),
                           action=_text(action, "action"), outcome=outcome or None,
                           since=moment(since, "since"), until=moment(until, "until", end=True),
                           target_text=_text(target, "target"))
    if chosen.since and chosen.until and chosen.since >= chosen.until:
        raise FilterError("since: the time range ends before it starts")
    return chosen


def query_filters(args: Mapping[str, str]) -> audit.Filters:
    """Filters from the download's query string: user (an id), action, outcome, since, until, target."""
    return filters(user_id=args.get("user"), action=args.get("action"), outcome=args.get("outcome"),
                   since=args.get("since"), until=args.get("until"), target=args.get("target"))


def newest_id(engine: Engine) -> int:
    """The newest entry's id: an export stops there, so the entries written meanwhile (its own audit
    entry among them) do not change what it holds."""
    with engine.connect() as connection:
        return connection.execute(select(func.max(AuditEvent.id))).scalar() or 0


def count(engine: Engine, chosen: audit.Filters, up_to: int) -> int:
    statement = select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= up_to, *chosen.clauses())
    with engine.connect() as connection:
        return connection.execute(statement).scalar()


def _batches(engine: Engine, chosen: audit.Filters, up_to: int) -> Iterator[list]:
    columns = [getattr(AuditEvent, name) for name in COLUMNS]
    last = 0
    while True:
        with engine.connect() as connection:  # one short read a batch: no transaction held while a client reads
            batch = connection.execute(select(*columns).where(AuditEvent.id > last, AuditEvent.id <= up_to,
                                                              *chosen.clauses())
                                       .order_by(AuditEvent.id).limit(BATCH)).all()
        if not batch:
            return
        yield batch
        last = batch[-1].id


def _cells(row) -> list[str]:
    values = {name: getattr(row, name) for name in COLUMNS}
    values["at"] = values["at"].astimezone(timezone.utc).isoformat(timespec="microseconds")
    values["details"] = json.dumps(values["details"] or {}, sort_keys=True, ensure_ascii=False)
    return [neutralise("" if values[name] is None else str(values[name])) for name in COLUMNS]


def _writer(file: TextIO):
    """A CSV writer to `file` that has written the header."""
    writer = csv.writer(file, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    return writer


def csv_chunks(engine: Engine, chosen: audit.Filters, up_to: int) -> Iterator[str]:
    """The CSV text: the header, then one chunk per batch of entries."""
    buffer = io.StringIO()
    writer = _writer(buffer)
    yield _taken(buffer)
    for batch in _batches(engine, chosen, up_to):
        writer.writerows(_cells(row) for row in batch)
        yield _taken(buffer)


def _taken(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def write(file: TextIO, engine: Engine, chosen: audit.Filters, up_to: int) -> int:
    """Write the CSV to `file`; returns how many entries it holds (counted as written: no count query)."""
    writer, entries = _writer(file), 0
    for batch in _batches(engine, chosen, up_to):
        writer.writerows(_cells(row) for row in batch)
        entries += len(batch)
    return entries


def record_export(chosen: audit.Filters, entries: int, via: str, db=None) -> None:
    audit.record(ACTION, target="csv", details={"filters": chosen.described(), "entries": entries, "via": via},
                 db=db)


def create_blueprint() -> flask.Blueprint:
    """GET /admin/audit.csv?user=&action=&outcome=&since=&until=&target= (admins only): the CSV, streamed."""
    blueprint = flask.Blueprint("audit_export", __name__)

    @blueprint.get(DOWNLOAD_PATH)
    def download():
        require(PERMISSION)
        try:
            chosen = query_filters(flask.request.args)
        except FilterError as error:
            audit.record(ACTION, outcome=AuditOutcome.FAILED, target="csv", details={"error": str(error)})
            flask.abort(400, description=f"Not exported: {error}.")
        engine = context.get().db.engine
        up_to = newest_id(engine)
        record_export(chosen, count(engine, chosen, up_to), via="admin page")
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return flask.Response(csv_chunks(engine, chosen, up_to), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"', "Cache-Control": "private, no-store"})

    return blueprint
