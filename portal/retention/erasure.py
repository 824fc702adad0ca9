"""Erasure: the right to erasure of one data subject, and a user deleting their own uploads.

`erase_sample` (`python -m portal erase --sample ID`) removes one sample from every stored upload and
prediction result that holds it, re-encrypting what remains under the newest storage key, and reports
what it touched. A touched run's summary and sample count are worked out again from what remains, its
figures are dropped (drawn again, without the sample, when the run is next opened), and the reviews of
that sample go. A file left with no sample is deleted and its record marked purged (PurgeReason.ERASURE).
Notebook runs that read a touched run lose their files too (their reports were computed from the
sample), and validation reports that name the sample lose those messages. Nothing is touched while a
run that reads a touched upload, or a notebook run that reads such a run, is still going (RunError 409:
let it end or cancel it, then erase again).

Each record touched leaves one audit entry, "erasure", whose target is its id and whose details hold the
sample id's sha256 (never the id itself), what kind of record it is and how many rows went; an erasure
that found the sample nowhere leaves one entry without a target. (Audit entries that already name the
sample, such as an explanation's view, stay as they are: the trail is append-only and hash-chained.)

`delete_upload`: an upload's owner (or an admin) deletes it with every run of it (portal.predictions
.lifecycle.delete_run, each audited "prediction.delete"), audited "upload.delete"."""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from portal.accounts import audit
from portal.core.context import Portal
from portal.core.models import NotebookRun, PredictionRun, SampleReview, Upload, utcnow
from portal.core.states import PurgeReason, RunStatus, UploadStatus
from portal.jobs import states
from portal.notebooks import runs as notebook_runs
from portal.predictions import figure_store, lifecycle, runs
from portal.predictions.runs import RunError

ACTION = "erasure"
ID = "__id__"  # the sample id column of a stored upload (portal.predictions.runs.save_upload)


@dataclass
class ErasureReport:
    sample_sha256: str
    uploads: dict[str, int] = field(default_factory=dict)  # upload id -> rows removed
    runs: dict[str, int] = field(default_factory=dict)  # run id -> rows removed from its results
    emptied: list[str] = field(default_factory=list)  # records left with no sample: file deleted, marked
    notebook_runs: list[str] = field(default_factory=list)  # their files deleted, marked
    reports: list[str] = field(default_factory=list)  # uploads whose validation report named the sample
    reviews: int = 0

    @property
    def touched(self) -> int:
        return len(self.uploads.keys() | set(self.reports)) + len(self.runs) + len(self.notebook_runs)


def sample_digest(sample_id: str) -> str:
    return hashlib.sha256(sample_id.encode()).hexdigest()


def erase_sample(portal: Portal, sample_id: str, user_id: int | None = None, actor: str | None = None
                 ) -> ErasureReport:
    """Remove `sample_id` from every stored upload and result (see the module's docstring)."""
    if not isinstance(sample_id, str) or not sample_id.strip():
        raise RunError("give the sample id to erase (a non-empty text)", 400)
    report = ErasureReport(sample_sha256=sample_digest(sample_id))
    holders = _uploads_holding(portal, sample_id)
    with portal.db.session() as session:
        touched_runs = list(session.scalars(select(PredictionRun).where(
            PredictionRun.upload_id.in_(holders), PredictionRun.purged_at.is_(None))))
    going = [run.id for run in touched_runs if run.status in RunStatus.active()]
    going += _notebook_runs_going(portal, {run.id for run in touched_runs})
    if going:
        raise RunError(f"run(s) {', '.join(going)} still read an upload that holds this sample: let them end "
                       f"(or cancel them), then erase again; nothing was changed", 409)
    when = utcnow()
    for run in touched_runs:
        _erase_from_run(portal, run, sample_id, when, report)
    for upload_id in holders:
        _erase_from_upload(portal, upload_id, sample_id, when, report)
    _scrub_reports(portal, sample_id, report)
    _drop_notebook_runs(portal, set(report.runs), when, report)
    _audit(portal, report, user_id, actor)
    return report


def _uploads_holding(portal: Portal, sample_id: str) -> list[str]:
    """The ids of the stored uploads whose samples include `sample_id` (only their id columns are read: one
    upload's values at a time are in memory, when _erase_from_upload rewrites it)."""
    with portal.db.session() as session:
        ids = list(session.scalars(select(Upload.id).where(Upload.status == UploadStatus.VALID,
                                                           Upload.purged_at.is_(None))))
    holders = []
    for upload_id in ids:
        name = runs._input_name(upload_id)
        if portal.storage.exists(name) and (portal.storage.get_frame(name, [ID])[ID].astype(str) == sample_id).any():
            holders.append(upload_id)
    return holders


def _notebook_runs_going(portal: Portal, run_ids: set[str]) -> list[str]:
    """The notebook runs still going that read one of these prediction runs (their reports will hold the sample)."""
    if not run_ids:
        return []
    with portal.db.session() as session:
        going = session.scalars(select(NotebookRun).where(NotebookRun.status.in_(RunStatus.active())))
        return [run.id for run in going if (run.parameters or {}).get(notebook_runs.INPUT_RUN) in run_ids]


def _erase_from_run(portal: Portal, run: PredictionRun, sample_id: str, when, report: ErasureReport) -> None:
    with portal.db.session() as session:
        report.reviews += session.execute(delete(SampleReview).where(SampleReview.run_id == run.id,
                                                                     SampleReview.sample_id == sample_id)).rowcount
    values = dict(revised_at=when)
    name = runs._results_name(run.id)
    if run.status == RunStatus.DONE and portal.storage.exists(name):
        results = portal.storage.get_frame(name)
        kept = results[results["sample_id"].astype(str) != sample_id].reset_index(drop=True)
        report.runs[run.id] = len(results) - len(kept)
        portal.storage.delete(figure_store.stored_name(run.id))  # drawn again from what remains
        if kept.empty:
            portal.storage.delete(name)
            values.update(purged_at=when, purge_reason=PurgeReason.ERASURE, result_path=None)
            report.emptied.append(run.id)
        else:
            portal.storage.put_frame(name, kept)
            values.update(summary=runs.summarise(kept, list(runs.run_model(portal, run).bundle.classes)))
        values.update(progress_total=len(kept), progress_done=len(kept))
    with portal.db.session() as session:
        session.execute(update(PredictionRun).where(PredictionRun.id == run.id).values(**values))
    runs.forget_cached(portal, run)  # kept by the old revised_at: those entries go


def _erase_from_upload(portal: Portal, upload_id: str, sample_id: str, when, report: ErasureReport) -> None:
    frame = portal.storage.get_frame(runs._input_name(upload_id))
    kept = frame[frame[ID].astype(str) != sample_id].reset_index(drop=True)
    report.uploads[upload_id] = len(frame) - len(kept)
    values = dict(revised_at=when, n_samples=len(kept))
    if kept.empty:
        portal.storage.delete(runs._input_name(upload_id))
        values.update(purged_at=when, purge_reason=PurgeReason.ERASURE, stored_path=None)
        report.emptied.append(upload_id)
    else:
        portal.storage.put_frame(runs._input_name(upload_id), kept)
    with portal.db.session() as session:
        session.execute(update(Upload).where(Upload.id == upload_id).values(**values))


def _scrub_reports(portal: Portal, sample_id: str, report: ErasureReport) -> None:
    """Validation messages that name the sample (a duplicate id, a value out of range in its row) go."""
    quoted = f"'{sample_id}'"
    with portal.db.session() as session:
        for upload in session.scalars(select(Upload).where(Upload.purged_at.is_(None))):
            issues = (upload.validation or {}).get("issues") or []
            kept = [i for i in issues if i.get("sample") != sample_id and quoted not in str(i.get("message", ""))]
            if len(kept) != len(issues):
                erased = upload.validation.get("issues_erased", 0) + len(issues) - len(kept)
                upload.validation = {**upload.validation, "issues": kept, "issues_erased": erased}
                report.reports.append(upload.id)


def _drop_notebook_runs(portal: Portal, run_ids: set[str], when, report: ErasureReport) -> None:
    """Notebook runs that read a touched prediction run: their reports were computed from the sample."""
    if not run_ids:
        return
    with portal.db.session() as session:
        found = list(session.scalars(select(NotebookRun).where(NotebookRun.purged_at.is_(None))))
        for run in found:
            if (run.parameters or {}).get(notebook_runs.INPUT_RUN) in run_ids and run.status not in RunStatus.active():
                shutil.rmtree(notebook_runs.run_folder(portal, run.id), ignore_errors=True)
                run.purged_at, run.purge_reason, run.output_path, run.html_path = when, PurgeReason.ERASURE, None, None
                report.notebook_runs.append(run.id)


def _audit(portal: Portal, report: ErasureReport, user_id: int | None, actor: str | None) -> None:
    common = dict(user_id=user_id, actor=actor, db=portal.db)
    digest = {"sample_sha256": report.sample_sha256}
    entries = [(run_id, "prediction_run", rows) for run_id, rows in report.runs.items()]
    entries += [(upload_id, "upload", report.uploads.get(upload_id, 0))
                for upload_id in dict.fromkeys([*report.uploads, *report.reports])]
    entries += [(run_id, "notebook_run", 0) for run_id in report.notebook_runs]
    for target, kind, rows in entries:
        audit.record(ACTION, target=target, details={**digest, "kind": kind, "rows": rows,
                                                     "emptied": target in report.emptied}, **common)
    if not entries:
        audit.record(ACTION, details={**digest, "kind": "none", "rows": 0, "emptied": False}, **common)


@dataclass(frozen=True)
class DeletedUpload:
    upload_id: str
    runs: list[str]  # the runs of it that were deleted with it
    files_removed: int


def delete_upload(portal: Portal, upload_id: str, user_id: int, role: str) -> DeletedUpload:
    """Delete an upload of the user's (any, for an admin) with every run of it and every stored file.
    RunError 404 (no such upload), 403 (not theirs), 409 (a run of it is still going: cancel it first)."""
    upload = runs.get_upload(portal, upload_id, user_id, role)
    with portal.db.session() as session:
        found = list(session.scalars(select(PredictionRun).where(PredictionRun.upload_id == upload.id)))
    going = [run.id for run in found if run.status in RunStatus.active()]
    if going:
        raise RunError(f"run(s) {', '.join(going)} of this upload are still going: cancel them, then delete it", 409)
    removed, upload_gone = 0, False
    for run in found:
        deleted = lifecycle.delete_run(portal, run.id, user_id, role)
        removed, upload_gone = removed + deleted.files_removed, upload_gone or deleted.upload_removed
    if not upload_gone:
        removed += portal.storage.delete(runs._input_name(upload.id))
        with portal.db.session() as session:
            session.execute(delete(Upload).where(Upload.id == upload.id))
    audit.record("upload.delete", target=upload.id, user_id=user_id, actor=states.owner_email(portal, user_id),
                 details={"owner": upload.user_id, "runs": len(found), "files_removed": removed,
                          "status": str(upload.status)}, db=portal.db)
    return DeletedUpload(upload_id=upload.id, runs=[run.id for run in found], files_removed=removed)
