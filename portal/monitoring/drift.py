"""Drift of recent inputs against the training data, per model: the valid uploads of the last `days` days for
each model's production version (the version a name alone resolves to), read from the encrypted storage one
upload at a time, newest first, up to `max_samples` samples, compared with the version's training samples by
engine.drift (the rule and thresholds are there: PSI_MODERATE, ALPHA, MAJOR_DRIFT_SHARE).

Uploads whose stored values were deleted (purged_at: retention or erasure) are not read, and a deleted run's
upload has no record left. API requests store no values, so they are not part of the inputs compared.

A report is computed once and kept in the portal's drift cache (a bound, a lock, a TTL of a few minutes), keyed
by the version, the window, the cap and the uploads read (id and revised_at): a new upload or an erasure that
rewrote one gives a new key; the TTL lets uploads age out of the window. The page and the /metrics collector
(drift_metrics) read the same entries."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import select

from engine import drift as engine_drift
from engine.projection import training_samples
from engine.registry import ModelVersion, RegistryError
from portal.core.context import Portal
from portal.core.models import Upload
from portal.core.states import UploadStatus
from portal.core.storage import StorageError
from portal.predictions import runs

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
MAX_SAMPLES = 5_000  # the newest samples compared: bounds memory and time (about 1 s for 5,000 x 700 features)
TOP_FEATURES = 10
MAX_UPLOADS = 1_000  # upload records looked at for one report (newest first)
SEVERITY = {engine_drift.NO_DRIFT: 0, engine_drift.SOME_DRIFT: 1, engine_drift.MAJOR_DRIFT: 2}


@dataclass(frozen=True)
class DriftReport:
    model: str
    version: int
    verdict: str | None  # engine.drift's verdict; None when nothing was compared (`note` says why)
    drifted_features: int = 0
    features: int = 0
    tested_features: int = 0
    top: list[dict] = field(default_factory=list)  # feature, group, kind, test, psi, p_adjusted, drifted
    uploads: int = 0
    samples: int = 0
    capped: bool = False  # more samples were in the window than max_samples
    days: int = DEFAULT_DAYS
    computed_at: datetime | None = None
    note: str = ""

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def share(self) -> float | None:
        """The share of features that drift (0..1); None when nothing was compared."""
        if self.verdict is None or not self.features:
            return None
        return self.drifted_features / self.features


def monitored_versions(portal: Portal) -> list[ModelVersion]:
    """Each model's production version (its latest where none is production)."""
    found = []
    for name in portal.registry.models():
        try:
            found.append(portal.registry.resolve(name))
        except RegistryError:
            log.warning("drift: model %s has no readable version", name, exc_info=True)
    return found


def recent_uploads(portal: Portal, version: ModelVersion, since: datetime, max_samples: int) -> tuple[list[tuple], bool]:
    """(id, revised_at, n_samples) of the valid, unpurged uploads of `version` since `since`, newest first, as
    many as hold `max_samples` samples; and whether the window holds more samples than that."""
    query = (select(Upload.id, Upload.revised_at, Upload.n_samples)
             .where(Upload.model_name == version.name, Upload.model_version == version.version,
                    Upload.status == UploadStatus.VALID, Upload.purged_at.is_(None), Upload.created_at >= since)
             .order_by(Upload.created_at.desc(), Upload.id).limit(MAX_UPLOADS))
    chosen, total = [], 0
    with portal.db.session() as session:
        for upload_id, revised_at, n_samples in session.execute(query):
            if total >= max_samples:
                return chosen, True  # an older upload is left out
            chosen.append((upload_id, revised_at, n_samples or 0))
            total += n_samples or 0
    return chosen, total > max_samples


def _reference(portal: Portal, model) -> np.ndarray:
    """The version's training values: the entry the explain page reads too (portal.predictions.explanations),
    under the same key and in the same shape, so a version's training samples are held once."""
    version = model.version

    def read():
        X, labels, _ = training_samples(model)
        return X, np.asarray(labels)

    return portal.caches.training_samples.get_or_create((str(version.path), version.sha256), read)[0]


def _recent_values(portal: Portal, uploads: list[tuple], names: list[str], max_samples: int) -> tuple[np.ndarray, int]:
    """The uploads' values (schema order), one upload in memory at a time, at most max_samples rows; and how
    many uploads were read (a file gone meanwhile is skipped)."""
    parts, left, read = [], max_samples, 0
    for upload_id, _, _ in uploads:
        if left <= 0:
            break
        try:
            frame = portal.storage.get_frame(runs._input_name(upload_id), columns=names)
        except StorageError:  # deleted or purged between the query and the read
            log.warning("drift: upload %s has no readable stored values; left out", upload_id)
            continue
        values = frame.to_numpy(dtype=float)[:left]
        del frame
        parts.append(values)
        left -= len(values)
        read += 1
    if not parts:
        return np.empty((0, len(names))), 0
    return np.concatenate(parts), read


def _top_rows(frame, top_n: int) -> list[dict]:
    rows = []
    for row in engine_drift.most_drifted(frame, top_n).itertuples():
        rows.append({"feature": row.feature, "group": row.group, "kind": row.kind, "test": row.test,
                     "psi": None if np.isnan(row.psi) else float(row.psi),
                     "p_adjusted": None if np.isnan(row.p_adjusted) else float(row.p_adjusted),
                     "drifted": bool(row.drifted)})
    return rows


def _compute(portal: Portal, version: ModelVersion, uploads: list[tuple], capped: bool, days: int,
             max_samples: int) -> DriftReport:
    base = dict(model=version.name, version=version.version, days=days, computed_at=datetime.now(timezone.utc))
    if not uploads:
        return DriftReport(verdict=None, note=f"no valid uploads for {version.ref} in the last {days} days", **base)
    try:
        model = portal.registry.load(version)
        reference = _reference(portal, model)
    except Exception as error:  # a missing dataset cache, a changed artifact: say so, keep the page up
        log.warning("drift: no training reference for %s", version.ref, exc_info=True)
        return DriftReport(verdict=None, note=f"the training samples of {version.ref} could not be read "
                                              f"({type(error).__name__})", **base)
    schema = model.schema
    current, read = _recent_values(portal, uploads, schema.names, max_samples)
    if not len(current):
        return DriftReport(verdict=None, note=f"the uploads of {version.ref} in the last {days} days could not "
                                              f"be read", **base)
    frame = engine_drift.feature_drift(reference, current, schema.names, [f.kind for f in schema.features],
                                       schema.groups)
    result = engine_drift.summary(frame)
    note = "" if result["tested_features"] else (f"too few samples to test a feature (fewer than "
                                                 f"{engine_drift.MIN_VALUES})")
    return DriftReport(verdict=result["verdict"], drifted_features=result["drifted_features"],
                       features=result["features"], tested_features=result["tested_features"],
                       top=_top_rows(frame, TOP_FEATURES), uploads=read, samples=int(len(current)),
                       capped=capped, note=note, **base)


def model_drift(portal: Portal, version: ModelVersion, days: int = DEFAULT_DAYS, max_samples: int = MAX_SAMPLES,
                now: datetime | None = None) -> DriftReport:
    """The drift report of `version`'s recent uploads (from the cache when it holds one for the same uploads)."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    uploads, capped = recent_uploads(portal, version, since, max_samples)
    key = ("drift", str(version.path), version.sha256, days, max_samples, capped,
           tuple((upload_id, revised_at) for upload_id, revised_at, _ in uploads))
    return portal.caches.drift.get_or_create(key, lambda: _compute(portal, version, uploads, capped, days, max_samples))


def all_drift(portal: Portal, days: int = DEFAULT_DAYS, max_samples: int = MAX_SAMPLES) -> list[DriftReport]:
    return [model_drift(portal, version, days, max_samples) for version in monitored_versions(portal)]


def worst(reports: list[DriftReport]) -> str | None:
    """The most severe verdict of the reports (None when none compared anything)."""
    verdicts = [r.verdict for r in reports if r.verdict is not None]
    return max(verdicts, key=SEVERITY.__getitem__) if verdicts else None
