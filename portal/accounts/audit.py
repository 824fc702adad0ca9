"""The audit trail: who did what, when, with what outcome. Details never hold genomic values or
passwords; callers pass identifiers and counts only."""
from __future__ import annotations

from datetime import datetime

import flask
from flask_login import current_user
from sqlalchemy import select

from portal.accounts import audit_chain
from portal.core import context
from portal.core.models import AuditEvent, utcnow
from portal.core.states import AuditOutcome


def record(action: str, outcome: AuditOutcome = AuditOutcome.OK, target: str | None = None, details: dict | None = None,
           user_id: int | None = None, actor: str | None = None, db=None) -> None:
    """Store one event. Inside a request the signed-in user and the client address are used; outside
    one (a background job) pass the database."""
    in_request = flask.has_request_context()
    if in_request and current_user.is_authenticated:
        user_id = user_id if user_id is not None else current_user.id
        actor = actor or current_user.email
    row = dict(at=utcnow(), action=action, outcome=outcome, target=target, details=details or {},
               user_id=user_id, actor=actor or "system", ip=flask.request.remote_addr if in_request else None)
    # Core statements, not an ORM unit of work: the API writes one entry per request, and the session's
    # flush machinery cost about three times the insert itself.
    audit_chain.append((db or context.get().db).engine, row)


def query(user_id: int | None = None, action: str | None = None, since: datetime | None = None,
          until: datetime | None = None, limit: int = 500) -> list[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if user_id is not None:
        statement = statement.where(AuditEvent.user_id == user_id)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.at <= until)
    with context.get().db.session() as session:
        return list(session.scalars(statement))


def actions() -> list[str]:
    with context.get().db.session() as session:
        return sorted(session.scalars(select(AuditEvent.action).distinct()))
