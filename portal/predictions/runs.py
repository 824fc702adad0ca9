"""Uploads and prediction runs: validate and store an upload, queue a run, execute it in chunks with
progress (in a background job), and read results back. Runs belong to their owner; admins see all; a
run shared with a user (by name or by role, portal.predictions.sharing) is theirs to read, not to change.

Stored (encrypted): `uploads/<id>/input.parquet` (the validated values, ids, labels, out-of-range counts)
and `runs/<id>/results.parquet`. The database holds the records, the validation report and a summary."""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import and_, or_, select, update

from engine import blocks, metrics
from engine.checksums import sha256_bytes
from engine.predict import predict
from engine.read_limits import release_memory
from engine.registry import LoadedModel, RegistryError
from portal.accounts import audit
from portal.accounts.permissions import ADMIN
from portal.core.context import Portal
from portal.core.models import PredictionRun, RunShare, Upload, utcnow
from portal.core.states import AuditOutcome, DataUseBasis, RunAccess, RunStatus, UploadStatus
from portal.jobs import states
from portal.predictions import consent
from portal.retention import notice

log = logging.getLogger(__name__)

LABEL_COLUMN = "true_label"  # an optional column of known classes in an upload
CHUNK = 1_000  # samples predicted between two progress reports and cancellation checks


class RunError(Exception):
    """A request about uploads or runs that cannot be met; `status` is the HTTP status it deserves."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class UploadOutcome:
    upload: Upload
    report: dict


def _input_name(upload_id: str) -> str:
    return f"uploads/{upload_id}/input.parquet"


def _results_name(run_id: str) -> str:
    return f"runs/{run_id}/results.parquet"


def save_upload(portal: Portal, user_id: int, filename: str, content: bytes, model_name: str,
                version: int | str | None = None, *, data_use, pseudonymous_ids: bool = False) -> UploadOutcome:
    """Validate an upload against the schema of a version of `model_name` (a number, an alias, or None
    for the default: Registry.version_of); record it with its data-use basis; store its values only if
    valid. `data_use`: a consent.DataUse or {"basis", "reference"}; without a valid one nothing is stored
    (RunError 400, audited as upload.refused). `pseudonymous_ids`: the uploader declared the sample ids
    pseudonyms, not direct identifiers (they may then be a FHIR export's subject)."""
    return save_files(portal, user_id, [(filename, content)], model_name, version, data_use=data_use,
                      pseudonymous_ids=pseudonymous_ids)


MAX_FILES = 16  # files in one upload: one wide file, or one a feature block (a model has a few blocks)


def save_files(portal: Portal, user_id: int, files: list[tuple[str, bytes]], model_name: str,
               version: int | str | None = None, *, data_use, pseudonymous_ids: bool = False) -> UploadOutcome:
    """save_upload for one wide file or one file per feature block (engine.blocks: joined on the sample id,
    the report says per block what is missing). The stored upload is the joined table; the record names the
    files, their bytes together and the sha256 of the one file (of the files' sha256s, in order, for several)."""
    filename = ", ".join(name for name, _ in files)[:255]
    size = sum(len(content) for _, content in files)
    use = _data_use(data_use, filename, size)
    if not files or len(files) > MAX_FILES:
        raise RunError(f"upload one wide file or one file per feature block (at most {MAX_FILES} files)", 400)
    try:
        model = portal.registry.load(portal.registry.version_of(model_name, version))
    except RegistryError as error:
        raise RunError(str(error), 404) from None
    alternatives = (blocks.alternatives_in(portal.registry, model.version.name, model.version.version)
                    if len(files) > 1 else ())
    checked = blocks.validate_files(files, model.schema, label_column=LABEL_COLUMN, max_rows=portal.settings.max_rows,
                                    max_bytes=portal.settings.max_upload_bytes, max_cells=portal.settings.max_cells,
                                    model=model.version.name, alternatives=alternatives)
    report = checked.report.to_dict()
    digests = [sha256_bytes(content) for _, content in files]
    digest = digests[0] if len(digests) == 1 else sha256_bytes("\n".join(digests).encode())
    upload = Upload(user_id=user_id, filename=filename, sha256=digest, size_bytes=size,
                    n_samples=checked.report.n_samples, model_name=model.version.name,
                    model_version=model.version.version,
                    status=UploadStatus.VALID if checked.report.ok else UploadStatus.INVALID, validation=report,
                    data_use_basis=use.basis, data_use_reference=use.reference,
                    pseudonymous_ids=pseudonymous_ids is True)
    with portal.db.session() as session:
        session.add(upload)
    if checked.report.ok:
        _store_input(portal, upload.id, checked, model.schema.names)
    details = {"file": filename, "bytes": size, "samples": checked.report.n_samples,
               "model": model.version.ref, "errors": len(checked.report.errors),
               "warnings": len(checked.report.warnings), "data_use": use.to_dict(),
               "pseudonymous_ids": upload.pseudonymous_ids}
    if len(files) > 1:
        details["files"] = len(files)
    audit.record("upload" if checked.report.ok else "upload.invalid",
                 outcome=AuditOutcome.OK if checked.report.ok else AuditOutcome.FAILED, target=upload.id,
                 details=details)
    return UploadOutcome(upload=upload, report=report)


def _store_input(portal: Portal, upload_id: str, checked, names: list[str]) -> None:
    """Store the validated values (ids, values, out-of-range counts, labels) encrypted, as zstd Parquet. The
    values are serialised and let go of (`checked.X` too) before the encryption, which holds several copies of
    what it encrypts: so one upload stays under 1 GB of memory (bench/upload_memory_bench.py)."""
    frame = pd.DataFrame(checked.X, columns=names, copy=False)  # no second copy of the values
    frame.insert(0, "__id__", checked.ids)
    frame["__out_of_range__"] = checked.out_of_range
    if checked.labels is not None:
        frame["__label__"] = checked.labels.astype("string").to_numpy()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    del frame
    checked.X = checked.out_of_range = None
    data = buffer.getvalue()
    del buffer
    release_memory()
    portal.storage.put(_input_name(upload_id), data)


def _data_use(data_use, filename: str, size: int) -> consent.DataUse:
    """The upload's checked data-use basis; a refusal is audited and stores nothing."""
    try:
        return consent.parse(data_use)
    except consent.ConsentError as error:
        audit.record("upload.refused", outcome=AuditOutcome.FAILED,
                     details={"file": filename[:255], "bytes": size, "field": f"data_use.{error.field}"})
        raise RunError(f"Not stored: {error.message}.", 400) from None


def _owned(portal: Portal, model, record_id: str, user_id: int, role: str, shared_reads: bool = False):
    with portal.db.session() as session:
        record = session.get(model, record_id)
        if record is None:
            raise RunError(f"no {model.__tablename__[:-1].replace('_', ' ')} {record_id}", 404)
        if record.user_id == user_id or role == ADMIN:
            return record
        if shared_reads and session.scalar(select(RunShare.id).where(RunShare.run_id == record_id,
                                                                     shared_with(user_id, role)).limit(1)):
            return record
    audit.record("run.denied", outcome=AuditOutcome.DENIED, target=record_id)
    raise RunError("this belongs to another user" + (" and is not shared with you" if shared_reads else ""), 403)


def shared_with(user_id: int | None, role: str | None):
    """Where clause on RunShare: the active shares that reach this user, by name or by role."""
    return and_(RunShare.revoked_at.is_(None), or_(RunShare.user_id == user_id, RunShare.role == role))


def get_upload(portal: Portal, upload_id: str, user_id: int, role: str) -> Upload:
    return _owned(portal, Upload, upload_id, user_id, role)


def get_run(portal: Portal, run_id: str, user_id: int, role: str, mode: RunAccess = RunAccess.WRITE) -> PredictionRun:
    """The run if the user may use it as `mode` says (RunError 404 or 403 otherwise). WRITE (the default:
    cancel, share, revoke): its owner or an admin. READ (its results, explanations, downloads, a
    notebook's input): also the recipients of an active share."""
    if not isinstance(run_id, str) or not run_id:  # a browser's request written by hand
        raise RunError("a run id is a non-empty text", 400)
    if len(run_id) > MAX_RUN_ID:  # from a URL too: names no run (and is never echoed whole)
        raise RunError(f"no prediction run {run_id[:MAX_RUN_ID]}…", 404)
    return _owned(portal, PredictionRun, run_id, user_id, role, shared_reads=RunAccess(mode) == RunAccess.READ)


MAX_RUN_ID = 64  # run ids are uuid4 hex (32 characters): a longer text is none
MAX_RUN_NAME = 200  # characters of a run's optional name (PredictionRun.name)


def run_name(name) -> str | None:
    """An optional run name as stored: stripped, None when empty (RunError 400 for more than
    MAX_RUN_NAME characters or a value that is not text)."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise RunError("a run name is text", 400)
    name = name.strip()
    if len(name) > MAX_RUN_NAME:
        raise RunError(f"keep the run name to {MAX_RUN_NAME} characters (it has {len(name)})", 400)
    return name or None


def queue_run(portal: Portal, upload_id: str, user_id: int, role: str, name: str | None = None) -> PredictionRun:
    """Queue a prediction run of a valid upload of the user's, with an optional name (see run_name)."""
    name = run_name(name)
    upload = get_upload(portal, upload_id, user_id, role)
    if upload.status != UploadStatus.VALID:
        raise RunError("this upload did not pass validation; fix the file and upload it again")
    if upload.purged_at is not None:
        raise RunError(notice.upload_gone(upload) + " Upload the file again to predict it.", notice.GONE)
    if upload.data_use_basis not in DataUseBasis.choices():  # stored before a basis was recorded
        raise RunError("this upload has no data-use basis recorded (it was stored before consent was recorded); "
                       "upload the file again and choose its basis", 409)
    version = portal.registry.get(upload.model_name, upload.model_version)
    # revised_at: the upload's, the revision of its values a cached copy must match (see _input_frame)
    run = PredictionRun(user_id=user_id, upload_id=upload.id, model_name=upload.model_name,
                        model_version=upload.model_version, artifact_sha256=version.sha256, status=RunStatus.QUEUED,
                        progress_done=0, progress_total=upload.n_samples or 0, name=name, revised_at=upload.revised_at)
    with portal.db.session() as session:
        session.add(run)
    audit.record("prediction.queue", target=run.id, details={"model": version.ref, "samples": run.progress_total})
    return run


def cancel_run(portal: Portal, run_id: str, user_id: int, role: str) -> None:
    get_run(portal, run_id, user_id, role)
    states.mark_cancelled(portal, PredictionRun, run_id)
    audit.record("prediction.cancel", target=run_id)


def _status(portal: Portal, run_id: str) -> str:
    with portal.db.session() as session:
        return session.scalar(select(PredictionRun.status).where(PredictionRun.id == run_id))


def execute_run(portal: Portal, run_id: str, progress: Callable[[int, int], None] | None = None) -> str:
    """Run a queued prediction to its end (in a background job). Returns the final status. Only a
    queued run starts, and only once: the claim is one atomic UPDATE. Where Celery runs (a Redis URL is
    set) a run of more than CANCER_ALPHA_BATCH_CHUNK_SAMPLES is split into chunks for the workers
    (portal.jobs.batch): it returns RUNNING once they are dispatched, and the run page follows the record."""
    from portal.jobs import batch  # batch builds on this module's steps

    claimed, run = states.claim(portal, PredictionRun, run_id)
    if not claimed:
        return run.status if run else RunStatus.FAILED
    try:
        if batch.is_chunked(portal.settings, run):
            batch.dispatch(portal, run)
            return RunStatus.RUNNING
        status = _predict_in_one_process(portal, run, progress)
    except Exception as error:  # recorded for the user in plain words; the trace goes to the log only
        log.exception("prediction run %s failed", run_id)
        fail_run(portal, run, error)
        return RunStatus.FAILED
    return status


def fail_run(portal: Portal, run: PredictionRun, error: Exception) -> bool:
    """Mark a running run FAILED with its audit entry; False (and no entry) when it had already ended,
    so a run that several chunks fail on is recorded once."""
    if not _finish(portal, run.id, RunStatus.FAILED,
                   error=f"The run failed: {type(error).__name__}. Nothing stored was lost."):
        return False
    audit.record("prediction.run", outcome=AuditOutcome.FAILED, target=run.id, user_id=run.user_id,
                 actor=states.owner_email(portal, run.user_id), details={"error": type(error).__name__},
                 db=portal.db)
    return True


def _predict_in_one_process(portal: Portal, run: PredictionRun, progress) -> str:
    model = checked_model(portal, run)
    frame = portal.storage.get_frame(_input_name(run.upload_id))
    total = len(frame)

    def reported(_n: int, done: int) -> None:
        with portal.db.session() as session:
            session.execute(update(PredictionRun).where(PredictionRun.id == run.id).values(progress_done=done))
        if progress:
            progress(done, total)

    results = predict_pieces(portal, run.id, model, frame, reported)
    if results is None:
        return _status(portal, run.id)
    return complete_run(portal, run, model, results)


def checked_model(portal: Portal, run: PredictionRun) -> LoadedModel:
    """The run's model version, refused when its artifact is not the one the run was queued with."""
    model = run_model(portal, run)
    if model.version.sha256 != run.artifact_sha256:
        raise RunError("the model version's artifact changed since the run was queued")
    return model


def predict_pieces(portal: Portal, run_id: str, model: LoadedModel, frame: pd.DataFrame,
                   after_piece: Callable[[int, int], None]) -> pd.DataFrame | None:
    """Predict stored input rows (`frame`: ids, values, out-of-range counts, labels) CHUNK samples at a
    time, the run's status read before each piece; `after_piece(n, done)` after each (n predicted, done so
    far of this frame). The results with the labels, or None once the run is no longer running."""
    X = frame[model.schema.names].to_numpy(dtype=float)
    ids = frame["__id__"].astype(str).tolist()
    out_of_range = frame["__out_of_range__"].to_numpy()
    parts, total = [], len(ids)
    for start in range(0, total, CHUNK):
        if _status(portal, run_id) != RunStatus.RUNNING:
            return None
        stop = min(start + CHUNK, total)
        parts.append(predict(model, X[start:stop], ids[start:stop], out_of_range[start:stop]).to_frame())
        after_piece(stop - start, stop)
    results = pd.concat(parts, ignore_index=True)
    if "__label__" in frame:
        results.insert(1, LABEL_COLUMN, frame["__label__"].to_numpy())
    return results


def complete_run(portal: Portal, run: PredictionRun, model: LoadedModel, results: pd.DataFrame) -> str:
    """Store a run's results (encrypted), summarise them, mark the run DONE and write its one
    `prediction.run` entry. A run cancelled (or failed) meanwhile stays as it ended, without results."""
    portal.storage.put_frame(_results_name(run.id), results)
    summary = summarise(results, model.bundle.classes)
    if not _finish(portal, run.id, RunStatus.DONE, summary=summary, result_path=_results_name(run.id)):
        portal.storage.delete(_results_name(run.id))
        return _status(portal, run.id)
    audit.record("prediction.run", target=run.id, user_id=run.user_id, actor=states.owner_email(portal, run.user_id),
                 details={"model": model.version.ref, "samples": len(results)}, db=portal.db)
    return RunStatus.DONE


def run_model(portal: Portal, run: PredictionRun) -> LoadedModel:
    """The model version a run predicts with (loaded once by the registry)."""
    return portal.registry.load(portal.registry.get(run.model_name, run.model_version))


def summarise(results: pd.DataFrame, classes: list[str]) -> dict:
    summary = {
        "n": int(len(results)),
        "predicted": {str(k): int(v) for k, v in results["predicted_class"].value_counts().items()},
        "abstain": int(results["abstain"].sum()),
        "out_of_distribution": int(results["out_of_distribution"].sum()),
    }
    if LABEL_COLUMN in results:
        summary["labels"] = metrics.label_agreement(results[LABEL_COLUMN].tolist(),
                                                    results["predicted_class"].tolist(), classes)
    return summary


def _finish(portal: Portal, run_id: str, status: RunStatus, **values) -> bool:
    """End a running run (one atomic UPDATE from RUNNING); False when it had already ended (cancelled)."""
    with portal.db.session() as session:
        return bool(session.execute(update(PredictionRun)
                                    .where(PredictionRun.id == run_id, PredictionRun.status == RunStatus.RUNNING)
                                    .values(status=status, finished_at=utcnow(), **values)).rowcount)


def require_stored(run: PredictionRun) -> None:
    """RunError 410 when retention or an erasure deleted the run's stored files (portal.retention): read
    before any cache, since another process may have purged it."""
    if run.purged_at is not None:
        raise RunError(notice.run_gone(run), notice.GONE)


def results(portal: Portal, run: PredictionRun) -> pd.DataFrame:
    require_stored(run)
    if run.status != RunStatus.DONE:
        raise RunError(f"run {run.id} is {run.status}, it has no results", 409)
    return portal.storage.get_frame(_results_name(run.id))


def _input_frame(portal: Portal, run: PredictionRun) -> pd.DataFrame:
    """A run's stored upload, decrypted once and kept by the portal: the results and explain pages read one
    repeatedly. Kept by upload id and the run's revised_at, which an erasure that rewrites the upload sets on
    it and on every run of it, and which a run queued later takes from its upload (queue_run)."""
    require_stored(run)
    return portal.caches.uploads.get_or_create((run.upload_id, run.revised_at),
                                               lambda: portal.storage.get_frame(_input_name(run.upload_id)))


def forget_cached(portal: Portal, run: PredictionRun) -> None:
    """Drop what this process keeps of a run whose stored files were deleted or rewritten: its results as
    the grid shows them (result_rows) and its upload (_input_frame), under the keys they are kept by."""
    portal.caches.run_tables.pop((run.id, run.revised_at))
    portal.caches.uploads.pop((run.upload_id, run.revised_at))


def upload_matrix(portal: Portal, run: PredictionRun, schema_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """The validated values of a run's upload (schema order) and the sample ids."""
    frame = _input_frame(portal, run)
    return frame[schema_names].to_numpy(dtype=float), frame["__id__"].astype(str).tolist()


def sample_input(portal: Portal, run: PredictionRun, sample_id: str, schema_names: list[str]) -> tuple[np.ndarray, int]:
    """The validated values of one sample of a run (for its explanation) and its out-of-range count."""
    frame = _input_frame(portal, run)
    rows = np.flatnonzero(frame["__id__"].astype(str).to_numpy() == sample_id)
    if len(rows) == 0:
        raise RunError(f"run {run.id} has no sample {sample_id!r}", 404)
    row = frame.iloc[rows[0]]
    return row[schema_names].to_numpy(dtype=float)[None, :], int(row["__out_of_range__"])


def sample_label(portal: Portal, run: PredictionRun, sample_id: str) -> str | None:
    """The known class the upload gave one sample (its `true_label` column), or None without one."""
    frame = _input_frame(portal, run)
    if "__label__" not in frame:
        return None
    rows = np.flatnonzero(frame["__id__"].astype(str).to_numpy() == sample_id)
    label = frame["__label__"].iloc[rows[0]] if len(rows) else None
    return None if label is None or pd.isna(label) else str(label)


def list_runs(portal: Portal, user_id: int, role: str, limit: int = 200, own: bool = False) -> list[PredictionRun]:
    """The user's runs, newest first; every run for an admin unless `own`."""
    statement = select(PredictionRun).order_by(PredictionRun.created_at.desc()).limit(limit)
    if role != ADMIN or own:
        statement = statement.where(PredictionRun.user_id == user_id)
    with portal.db.session() as session:
        return list(session.scalars(statement))


def upload_table(portal: Portal, run: PredictionRun, id_column: str) -> pd.DataFrame:
    """A run's validated upload as a file of samples again: the id column, the features and the labels
    (for a notebook that reads files)."""
    frame = _input_frame(portal, run)
    table = frame.drop(columns=["__id__", "__label__", "__out_of_range__"], errors="ignore")
    table.insert(0, id_column, frame["__id__"].astype(str).to_numpy())
    if "__label__" in frame:
        table[LABEL_COLUMN] = frame["__label__"].to_numpy()
    return table


def readable_finished_runs(portal: Portal, user_id: int | None, role: str, limit: int = 200) -> list[PredictionRun]:
    """The finished prediction runs this user may read, newest first (at most `limit`): their own and those
    shared with them (an active share, by name or role), every run for admins. The one list of runs whose
    samples a user may reuse (a notebook's input choice): who else may read a run is decided here."""
    statement = (select(PredictionRun).where(PredictionRun.status == RunStatus.DONE, PredictionRun.purged_at.is_(None))
                 .order_by(PredictionRun.created_at.desc()).limit(limit))
    if role != ADMIN:  # their own and those shared with them
        shared = select(RunShare.run_id).where(shared_with(user_id, role))
        statement = statement.where(or_(PredictionRun.user_id == user_id, PredictionRun.id.in_(shared)))
    with portal.db.session() as session:
        return list(session.scalars(statement))
