"""State changes shared by prediction runs and notebook runs (portal.core.models PredictionRun and
NotebookRun: both have id, status, started_at and finished_at), and who a run is for. Each change is one
atomic UPDATE guarded by the state it starts from, so two processes never both start or end one run."""
from __future__ import annotations

from sqlalchemy import update

from portal.accounts.users import get_user
from portal.core.context import Portal
from portal.core.models import utcnow
from portal.core.states import RunStatus


def claim(portal: Portal, model, run_id: str):
    """(claimed, run): a queued run becomes running in one atomic UPDATE, so it starts only once."""
    with portal.db.session() as session:
        claimed = session.execute(update(model).where(model.id == run_id, model.status == RunStatus.QUEUED)
                                  .values(status=RunStatus.RUNNING, started_at=utcnow())).rowcount
        return bool(claimed), session.get(model, run_id)


def mark_cancelled(portal: Portal, model, run_id: str) -> None:
    """A queued or running run becomes cancelled; one that has ended stays as it ended."""
    with portal.db.session() as session:
        session.execute(update(model).where(model.id == run_id, model.status.in_(RunStatus.active()))
                        .values(status=RunStatus.CANCELLED, finished_at=utcnow()))


def owner_email(portal: Portal, user_id: int | None) -> str:
    """Who a run is for, for its records and audit entries (a background job has no signed-in user): the
    e-mail; "system" for a command-line run with no user; "user N" for a user no longer stored."""
    if user_id is None:
        return "system"
    user = get_user(portal.db, user_id)
    return user.email if user else f"user {user_id}"
