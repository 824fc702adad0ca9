"""The audit trail: who did what, when, with what outcome. Details never hold genomic values or
passwords; callers pass identifiers and counts only."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import flask
from flask_login import current_user
from sqlalchemy import or_, select

from portal import request_ids
from portal.accounts import audit_chain
from portal.core import context
from portal.core.models import AuditEvent, utcnow
from portal.core.states import AuditOutcome

_ACTING = "cancer_alpha.audit_acting"  # the request's (user id, e-mail) that act_for set (WSGI environ: see record)


def act_for(user_id: int, email: str) -> None:
    """Entries this request records are this user's: an API request, whose user comes from its key, not
    from a session. (Kept in the request's environ: flask.g belongs to the application context, which a
    test's or a script's pushed context shares between requests.)"""
    flask.request.environ[_ACTING] = (user_id, email)


def _acting() -> tuple[int, str] | None:
    if not flask.has_request_context():
        return None
    acting = flask.request.environ.get(_ACTING)
    if acting is None and current_user.is_authenticated:
        acting = (current_user.id, current_user.email)
    return acting


def record(action: str, outcome: AuditOutcome = AuditOutcome.OK, target: str | None = None, details: dict | None = None,
           user_id: int | None = None, actor: str | None = None, db=None) -> None:
    """Store one event. Inside a request its user (an API key's owner, see act_for, or the signed-in
    user), the client address and the request id are used; outside one (a background job) pass the
    database: the job's entries carry the id and address of the request that started it, when known
    (portal.request_ids.started_by)."""
    acting = _acting()
    if acting is not None:
        user_id = user_id if user_id is not None else acting[0]
        actor = actor or acting[1]
    row = dict(at=utcnow(), action=action, outcome=outcome, target=target, details=details or {},
               user_id=user_id, actor=actor or "system", ip=request_ids.client_address(),
               request_id=request_ids.current())
    # Core statements, not an ORM unit of work: the API writes one entry per request, and the session's
    # flush machinery cost about three times the insert itself. A request's entry goes through its
    # process's group commit (portal.accounts.audit_writer), which returns once the entry is committed.
    if db is None:
        context.get().audit_writer.append(row)
    else:
        audit_chain.append(db.engine, row)


@dataclass(frozen=True)
class Filters:
    """Which entries to read (the Admin page's filters, `audit export`'s options); empty fields match all."""

    user_id: int | None = None
    actor: str | None = None  # the actor's e-mail as written (failed sign-ins of unknown e-mails have no user)
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # from this moment on
    until: datetime | None = None  # up to, not including, this moment
    target_text: str | None = None  # text the target contains, in any case

    def clauses(self) -> list:
        clauses = []
        who = [AuditEvent.user_id == self.user_id] if self.user_id is not None else []
        who += [AuditEvent.actor == self.actor] if self.actor else []
        if who:
            clauses.append(or_(*who))
        if self.action:
            clauses.append(AuditEvent.action == self.action)
        if self.outcome:
            clauses.append(AuditEvent.outcome == self.outcome)
        if self.since is not None:
            clauses.append(AuditEvent.at >= self.since)
        if self.until is not None:
            clauses.append(AuditEvent.at < self.until)
        if self.target_text:
            escaped = self.target_text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(AuditEvent.target.ilike(f"%{escaped}%", escape="\\"))
        return clauses

    def described(self) -> dict:
        """The filters that are set, as text (for the export's own audit entry)."""
        return {name: value.isoformat() if isinstance(value, datetime) else value
                for name, value in dataclasses.asdict(self).items() if value not in (None, "")}


def latest(filters: Filters = Filters(), limit: int = 500) -> list[AuditEvent]:
    """The newest `limit` entries the filters pick, newest first."""
    statement = (select(AuditEvent).where(*filters.clauses())
                 .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    with context.get().db.session() as session:
        return list(session.scalars(statement))


def actions() -> list[str]:
    with context.get().db.session() as session:
        return sorted(session.scalars(select(AuditEvent.action).distinct()))


def succeeded_since(action: str, since: datetime, limit: int, db=None) -> list[tuple[datetime, str | None, dict]]:
    """(when, target, details) of the newest `limit` successful entries of one action from `since` on, newest
    first: what the Monitoring page counts (API predictions) without naming the table itself."""
    statement = (select(AuditEvent.at, AuditEvent.target, AuditEvent.details)
                 .where(AuditEvent.action == action, AuditEvent.outcome == AuditOutcome.OK, AuditEvent.at >= since)
                 .order_by(AuditEvent.at.desc()).limit(limit))
    with (db or context.get().db).session() as session:
        return [(at, target, details or {}) for at, target, details in session.execute(statement)]
