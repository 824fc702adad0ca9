"""Sharing prediction runs: the owner of a run (or an admin) shares it, read-only, with named users or with
everyone of a role, and may revoke a share. A recipient may open the run's results, explanations and
downloads, review its samples (with `review`) and read it as a notebook's input; only the owner or an
admin cancels, shares or revokes (runs.get_run with RunAccess.WRITE). A share reaches a role's users as
they are now: a user whose role changes gains or loses the shares of that role.

Every share and revocation is audited ("run.share", "run.unshare"); a revoked share stays as a row
with who revoked it and when."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.accounts import audit
from portal.accounts.permissions import ADMIN, ROLES
from portal.accounts.users import UserError, normalise_email
from portal.core.context import Portal
from portal.core.models import PredictionRun, RunShare, User, utcnow
from portal.core.states import RunAccess
from portal.jobs import states
from portal.predictions import runs
from portal.predictions.runs import RunError

MAX_RECIPIENTS = 50  # e-mail addresses in one request


@dataclass(frozen=True)
class Share:
    """An active share as pages show it."""

    id: int
    run_id: str
    recipient: str  # "Name <e-mail>" or "everyone with role clinician"
    user_id: int | None
    role: str | None
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True)
class SharedRun:
    """A run shared with the user, with its owner's name."""

    run: PredictionRun
    owner: str
    granted_at: datetime


def _audit(portal: Portal, action: str, run_id: str, details: dict, user_id: int) -> None:
    """Signed by the acting user, inside a request or not (the command line, a test)."""
    audit.record(action, target=run_id, details=details, user_id=user_id, actor=states.owner_email(portal, user_id))


def _writable(portal: Portal, run_id: str, user_id: int, role: str) -> PredictionRun:
    return runs.get_run(portal, run_id, user_id, role, RunAccess.WRITE)


def parse_emails(text: str) -> list[str]:
    """E-mail addresses separated by commas, semicolons, spaces or new lines, each checked (RunError 400)."""
    if not isinstance(text, str):
        raise RunError("give e-mail addresses as text", 400)
    items = [item for item in text.replace(";", ",").replace("\n", ",").replace(" ", ",").split(",") if item]
    if len(items) > MAX_RECIPIENTS:
        raise RunError(f"share with at most {MAX_RECIPIENTS} addresses at once, not {len(items)}", 400)
    try:
        return list(dict.fromkeys(normalise_email(item) for item in items))
    except UserError as error:
        raise RunError(str(error), 400) from None


def share_with_users(portal: Portal, run_id: str, emails: list[str], user_id: int, role: str) -> list[RunShare]:
    """Share with each named, active user (RunError 404 naming an unknown address; nothing is shared then).
    A user who holds an active share of the run already is left as is; the owner is never a recipient."""
    _writable(portal, run_id, user_id, role)
    if not emails:
        raise RunError("name at least one user by e-mail address", 400)
    made = []
    with portal.db.session() as session:
        run = session.get(PredictionRun, run_id)
        recipients = []
        for email in emails:
            user = session.scalar(select(User).where(User.email == email))
            if user is None or not user.active:
                raise RunError(f"no active user has the e-mail address {email}", 404)
            if user.id == run.user_id:
                raise RunError(f"{email} owns this run already", 400)
            recipients.append(user)
        for user in recipients:
            held = session.scalar(select(RunShare.id).where(RunShare.run_id == run_id, RunShare.user_id == user.id,
                                                            RunShare.revoked_at.is_(None)))
            if held is None:
                made.append(RunShare(run_id=run_id, user_id=user.id, granted_by=user_id, granted_at=utcnow()))
        session.add_all(made)
    for share in made:
        _audit(portal, "run.share", run_id, {"share": share.id, "user": share.user_id}, user_id)
    return made


def share_with_role(portal: Portal, run_id: str, recipient_role: str, user_id: int, role: str) -> RunShare | None:
    """Share with everyone of a role (RunError 400 for a role that does not exist); None when the run is
    shared with that role already."""
    _writable(portal, run_id, user_id, role)
    if recipient_role not in ROLES:
        raise RunError(f"role must be one of {', '.join(ROLES)}, not {recipient_role!r}", 400)
    with portal.db.session() as session:
        if session.scalar(select(RunShare.id).where(RunShare.run_id == run_id, RunShare.role == recipient_role,
                                                    RunShare.revoked_at.is_(None))):
            return None
        share = RunShare(run_id=run_id, role=recipient_role, granted_by=user_id, granted_at=utcnow())
        session.add(share)
    _audit(portal, "run.share", run_id, {"share": share.id, "role": recipient_role}, user_id)
    return share


def revoke(portal: Portal, run_id: str, share_id: int, user_id: int, role: str) -> None:
    """Revoke one active share of the run (RunError 404 if the run has no such active share)."""
    _writable(portal, run_id, user_id, role)
    if not isinstance(share_id, int) or isinstance(share_id, bool):
        raise RunError("a share id is a whole number", 400)
    with portal.db.session() as session:
        share = session.get(RunShare, share_id)
        if share is None or share.run_id != run_id or share.revoked_at is not None:
            raise RunError(f"run {run_id} has no active share {share_id}", 404)
        share.revoked_at, share.revoked_by = utcnow(), user_id
    _audit(portal, "run.unshare", run_id, {"share": share_id, "user": share.user_id, "role": share.role}, user_id)


def _names(session, ids) -> dict[int, User]:
    ids = {i for i in ids if i is not None}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


def active_shares(portal: Portal, run_id: str, user_id: int, role: str) -> list[Share]:
    """The run's active shares, for its owner or an admin (RunError 403 for others)."""
    _writable(portal, run_id, user_id, role)
    with portal.db.session() as session:
        rows = list(session.scalars(select(RunShare).where(RunShare.run_id == run_id, RunShare.revoked_at.is_(None))
                                    .order_by(RunShare.granted_at, RunShare.id)))
        users = _names(session, [r.user_id for r in rows] + [r.granted_by for r in rows])
    out = []
    for row in rows:
        if row.user_id is not None:
            who = users.get(row.user_id)
            recipient = f"{who.name} <{who.email}>" if who else f"user {row.user_id}"
        else:
            recipient = f"everyone with role {row.role}"
        granter = users.get(row.granted_by)
        out.append(Share(id=row.id, run_id=row.run_id, recipient=recipient, user_id=row.user_id, role=row.role,
                         granted_by=granter.name if granter else str(row.granted_by), granted_at=row.granted_at))
    return out


def owner_name(portal: Portal, run: PredictionRun) -> str:
    with portal.db.session() as session:
        owner = session.get(User, run.user_id)
    return owner.name if owner else f"user {run.user_id}"


def is_recipient(portal: Portal, run_id: str, user_id: int, role: str) -> bool:
    """Whether an active share of the run reaches this user (not whether they own it)."""
    with portal.db.session() as session:
        return session.scalar(select(RunShare.id).where(RunShare.run_id == run_id,
                                                        runs.shared_with(user_id, role)).limit(1)) is not None


def shared_runs(portal: Portal, user_id: int, role: str, limit: int = 200) -> list[SharedRun]:
    """Runs of other users shared with this user (by name or role), newest share first, each once."""
    with portal.db.session() as session:
        rows = session.execute(
            select(PredictionRun, RunShare.granted_at).join(RunShare, RunShare.run_id == PredictionRun.id)
            .where(runs.shared_with(user_id, role), PredictionRun.user_id != user_id)
            .order_by(RunShare.granted_at.desc(), RunShare.id.desc())).all()
        owners = _names(session, [run.user_id for run, _ in rows])
    seen, out = set(), []
    for run, granted_at in rows:
        if run.id in seen:
            continue
        seen.add(run.id)
        owner = owners.get(run.user_id)
        out.append(SharedRun(run=run, owner=owner.name if owner else str(run.user_id), granted_at=granted_at))
        if len(out) >= limit:
            break
    return out


def visible_runs(portal: Portal, user_id: int, role: str, limit: int = 200) -> list[tuple[PredictionRun, str | None]]:
    """My runs page: the user's own runs (all runs for admins) and the runs shared with them, newest first;
    each with the owner's name when it is shared with the user (None for their own)."""
    own = runs.list_runs(portal, user_id, role, limit)
    seen = {run.id for run in own}
    shared = [] if role == ADMIN else [s for s in shared_runs(portal, user_id, role, limit) if s.run.id not in seen]
    rows = [(run, None) for run in own] + [(s.run, s.owner) for s in shared]
    rows.sort(key=lambda item: item[0].created_at, reverse=True)
    return rows[:limit]
