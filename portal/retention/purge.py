"""Retention: uploads, prediction results (with their figures) and the files of notebook runs that read a
user's samples, older than settings.retention_days, are deleted by `python -m portal purge` and by the
periodic job (portal.retention.periodic, a Celery beat entry where Celery runs).

What goes, what stays:
- an upload older than the cutoff: its stored values; its record stays, marked purged, its validation
  report cut to its counts (its messages name rows and sample ids). Every run of it goes with it, however
  young: a run's results and explanations are read from its upload.
- a prediction run older than the cutoff (or of a purged upload): its results and figures; its record
  stays, marked purged, with its summary (counts per class, no sample). Its pages say so (portal.retention
  .notice) and its downloads and API answer 410.
- a notebook run older than the cutoff that read a user's samples (a prediction run's upload or a file,
  notebooks.runs.is_private): its folder (executed notebook, HTML, any input copy); its record stays. Runs
  on the registry's own data (a held-out split, training) keep their reports: they hold no user's data.
A run still queued or running is left, with its upload, for the next purge. Each record purged leaves one
audit entry, "purge", whose target is its id. Files are deleted before the record is marked, so a purge
that stops halfway is finished by the next one."""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from portal.accounts import audit
from portal.core.context import Portal
from portal.core.models import NotebookRun, PredictionRun, Upload, utcnow
from portal.core.states import PurgeReason, RunStatus
from portal.notebooks import runs as notebook_runs
from portal.predictions import figure_store, runs

log = logging.getLogger(__name__)

ACTION = "purge"
VALIDATION_COUNTS = ("source", "n_samples", "ok", "n_errors", "n_warnings")  # what a purged report keeps


@dataclass
class PurgeReport:
    cutoff: datetime
    days: int  # the retention the cutoff was worked out from
    dry_run: bool
    uploads: list[str] = field(default_factory=list)  # ids purged (or, in a dry run, that would be)
    runs: list[str] = field(default_factory=list)
    notebook_runs: list[str] = field(default_factory=list)
    files_removed: int = 0
    left_active: list[str] = field(default_factory=list)  # runs still going, left for the next purge

    @property
    def records(self) -> int:
        return len(self.uploads) + len(self.runs) + len(self.notebook_runs)


@dataclass(frozen=True)
class _Chosen:
    uploads: list[Upload]
    runs: list[PredictionRun]
    notebook_runs: list[NotebookRun]
    left_active: list[str]


def purge(portal: Portal, days: int | None = None, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """Purge what is older than `days` (default settings.retention_days); a dry run only says what would go."""
    days = portal.settings.retention_days if days is None else days
    if days < 0:
        raise ValueError(f"retention days must be 0 or more, not {days}")
    cutoff = (now or utcnow()) - timedelta(days=days)
    chosen = _choose(portal, cutoff)
    report = PurgeReport(cutoff=cutoff, days=days, dry_run=dry_run, left_active=chosen.left_active)
    report.runs = [run.id for run in chosen.runs]
    report.uploads = [upload.id for upload in chosen.uploads]
    report.notebook_runs = [run.id for run in chosen.notebook_runs]
    if dry_run:
        return report
    when = utcnow()
    for run in chosen.runs:  # the runs first: a run is never left pointing at a purged upload
        report.files_removed += _purge_run(portal, run, when, days)
    for upload in chosen.uploads:
        report.files_removed += _purge_upload(portal, upload, when, days)
    for run in chosen.notebook_runs:
        report.files_removed += _purge_notebook_run(portal, run, when, days)
    return report


def _choose(portal: Portal, cutoff: datetime) -> _Chosen:
    active = RunStatus.active()
    with portal.db.session() as session:
        old_uploads = list(session.scalars(select(Upload).where(Upload.created_at < cutoff,
                                                                Upload.purged_at.is_(None))))
        old_ids = [upload.id for upload in old_uploads]
        candidates = list(session.scalars(select(PredictionRun).where(
            PredictionRun.purged_at.is_(None),
            or_(PredictionRun.created_at < cutoff, PredictionRun.upload_id.in_(old_ids)))))
        notebooks = list(session.scalars(select(NotebookRun).where(NotebookRun.created_at < cutoff,
                                                                   NotebookRun.purged_at.is_(None),
                                                                   NotebookRun.status.not_in(active))))
    going = [run for run in candidates if run.status in active]
    busy_uploads = {run.upload_id for run in going}
    return _Chosen(uploads=[u for u in old_uploads if u.id not in busy_uploads],
                   runs=[run for run in candidates if run.status not in active],
                   notebook_runs=[run for run in notebooks if notebook_runs.is_private(run)],
                   left_active=[run.id for run in going])


def _delete(portal: Portal, names: list[str]) -> int:
    return sum(portal.storage.delete(name) for name in names)


def _purge_run(portal: Portal, run: PredictionRun, when: datetime, kept: int) -> int:
    removed = _delete(portal, [runs._results_name(run.id), figure_store.stored_name(run.id)])
    with portal.db.session() as session:
        session.execute(update(PredictionRun).where(PredictionRun.id == run.id)
                        .values(purged_at=when, purge_reason=PurgeReason.RETENTION, result_path=None))
    runs.forget_cached(portal, run)
    _audit(portal, run.id, "prediction_run", run.created_at, removed, kept)
    return removed


def _purge_upload(portal: Portal, upload: Upload, when: datetime, kept: int) -> int:
    removed = _delete(portal, [runs._input_name(upload.id)])
    counts = {key: (upload.validation or {}).get(key) for key in VALIDATION_COUNTS}
    with portal.db.session() as session:
        session.execute(update(Upload).where(Upload.id == upload.id).values(
            purged_at=when, purge_reason=PurgeReason.RETENTION, stored_path=None,
            validation={**counts, "issues": [], "purged": True}))
    _audit(portal, upload.id, "upload", upload.created_at, removed, kept)
    return removed


def _purge_notebook_run(portal: Portal, run: NotebookRun, when: datetime, kept: int) -> int:
    folder = notebook_runs.run_folder(portal, run.id)
    removed = sum(1 for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():  # left for the next purge, which tries again; the record is not marked
        log.warning("could not remove the folder of notebook run %s", run.id)
        return 0
    with portal.db.session() as session:
        session.execute(update(NotebookRun).where(NotebookRun.id == run.id).values(
            purged_at=when, purge_reason=PurgeReason.RETENTION, output_path=None, html_path=None))
    _audit(portal, run.id, "notebook_run", run.created_at, removed, kept)
    return removed


def _audit(portal: Portal, target: str, kind: str, created: datetime, files: int, kept: int) -> None:
    audit.record(ACTION, target=target, details={"kind": kind, "created": created.date().isoformat(),
                                                 "files": files, "retention_days": kept}, db=portal.db)
