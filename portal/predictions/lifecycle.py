"""A prediction run's life on My runs after it is queued: listed with its file name and owner, named, and
deleted. Only the owner or an admin names or deletes a run (runs.get_run with RunAccess.WRITE: a recipient
of a share or another user gets RunError 403, audited as "run.denied" there).

Deleting a run removes, in one database transaction, its sample reviews, its shares (active and revoked)
and the run row; then its stored results file. The upload it predicted (its record and its stored values)
goes too when no other run uses it, since a person deleting their run means their genomic data to go; an
upload another run still reads stays. A run still queued or running is refused (409: cancel it first).
One audit entry, "prediction.delete", holds the counts of what went, never genomic values or names."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from portal.accounts import audit
from portal.accounts.permissions import ADMIN
from portal.core.context import Portal
from portal.core.models import PredictionRun, RunShare, SampleReview, Upload, User
from portal.core.states import RunAccess, RunStatus
from portal.jobs import states
from portal.predictions import figure_store, runs, sharing
from portal.predictions.runs import RunError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListedRun:
    """A run as My runs lists it."""

    run: PredictionRun
    filename: str | None  # the uploaded file's name (None if its upload is gone)
    owner: str  # the owner's name
    shared_by: str | None  # the owner's name when the run is shared with the user, None for their own
    writable: bool  # the user may name and delete it (its owner or an admin)


@dataclass(frozen=True)
class DeletedRun:
    """What a deletion removed."""

    run_id: str
    shares: int
    reviews: int
    upload_removed: bool
    files_removed: int


def listed_runs(portal: Portal, user_id: int, role: str, limit: int = 200) -> list[ListedRun]:
    """My runs: sharing.visible_runs (their own, all for admins, and those shared with them), each with its
    file name and its owner's name."""
    return described(portal, sharing.visible_runs(portal, user_id, role, limit), user_id, role)


def described(portal: Portal, visible: list[tuple[PredictionRun, str | None]], user_id: int,
              role: str) -> list[ListedRun]:
    """Runs the user may read (each with the name of who shared it, or None) with their file and owner names,
    in two queries."""
    upload_ids = {run.upload_id for run, _ in visible if run.upload_id}
    owner_ids = {run.user_id for run, _ in visible}
    with portal.db.session() as session:
        files = dict(session.execute(select(Upload.id, Upload.filename).where(Upload.id.in_(upload_ids))).all())
        owners = dict(session.execute(select(User.id, User.name).where(User.id.in_(owner_ids))).all())
    return [ListedRun(run=run, filename=files.get(run.upload_id), owner=owners.get(run.user_id, f"user {run.user_id}"),
                      shared_by=shared_by, writable=run.user_id == user_id or role == ADMIN)
            for run, shared_by in visible]


def rename_run(portal: Portal, run_id: str, name: str | None, user_id: int, role: str) -> PredictionRun:
    """Give a run a name, or clear it with an empty one (runs.run_name: at most 200 characters). Audited as
    "prediction.rename" with the name's length, not its text."""
    runs.get_run(portal, run_id, user_id, role, RunAccess.WRITE)
    clean = runs.run_name(name)
    with portal.db.session() as session:
        session.execute(update(PredictionRun).where(PredictionRun.id == run_id).values(name=clean))
    audit.record("prediction.rename", target=run_id, details={"characters": len(clean or "")}, user_id=user_id,
                 actor=states.owner_email(portal, user_id))
    return runs.get_run(portal, run_id, user_id, role, RunAccess.WRITE)


def delete_run(portal: Portal, run_id: str, user_id: int, role: str) -> DeletedRun:
    """Delete a finished, failed or cancelled run of the user's (any run for an admin): see the module's
    docstring. RunError 400 (a bad id), 404 (no such run), 403 (not theirs), 409 (still queued or running)."""
    run = runs.get_run(portal, run_id, user_id, role, RunAccess.WRITE)
    active = RunStatus.active()
    if run.status in active:
        raise RunError(f"run {run_id} is still {run.status}: cancel it first, then delete it", 409)
    upload_removed = False
    with portal.db.session() as session:  # one transaction: all of it goes, or none
        reviews = session.execute(delete(SampleReview).where(SampleReview.run_id == run_id)).rowcount
        shares = session.execute(delete(RunShare).where(RunShare.run_id == run_id)).rowcount
        gone = session.execute(delete(PredictionRun).where(PredictionRun.id == run_id,
                                                           PredictionRun.status.not_in(active))).rowcount
        if not gone:  # it started again or went meanwhile: nothing is deleted
            raise RunError(f"run {run_id} changed while it was being deleted; reload and try again", 409)
        if run.upload_id and not session.scalar(select(func.count()).select_from(PredictionRun)
                                                .where(PredictionRun.upload_id == run.upload_id)):
            session.execute(delete(Upload).where(Upload.id == run.upload_id))
            upload_removed = True
    names = [runs._results_name(run_id), figure_store.stored_name(run_id)]
    names += [runs._input_name(run.upload_id)] if upload_removed else []
    files_removed = 0
    for name in names:  # after the commit: a file left behind is logged, never a run half deleted
        try:
            files_removed += portal.storage.delete(name)
        except OSError:
            log.warning("deleted run %s, but could not remove its stored file %s", run_id, name, exc_info=True)
    runs.forget_cached(portal, run)
    outcome = DeletedRun(run_id=run_id, shares=shares, reviews=reviews, upload_removed=upload_removed,
                         files_removed=files_removed)
    audit.record("prediction.delete", target=run_id, user_id=user_id, actor=states.owner_email(portal, user_id),
                 details={"model": f"{run.model_name}:{run.model_version}", "owner": run.user_id,
                          "samples": run.progress_total, "status": str(run.status), "shares": shares,
                          "reviews": reviews, "upload_removed": upload_removed, "files_removed": files_removed})
    return outcome
