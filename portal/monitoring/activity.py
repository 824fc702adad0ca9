"""What the portal did, counted from its database: samples predicted per model version and class over time,
samples predicted through the API per model version over time, and background jobs by state. Only what is
stored is counted; nothing is estimated.

- Web prediction runs store their predicted counts per class in the run's summary (`summary["predicted"]`),
  so they are counted by the day or hour the run finished.
- API predictions are audited (`api.predict`) with the model version and the number of samples, but not their
  classes: they are counted per model version only. Per class they are in Prometheus
  (`cancer_alpha_predictions_total`), which the Grafana dashboard shows.
- Jobs: prediction runs and notebook runs created in the window, by the state they are in now."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from portal.accounts import audit
from portal.core.db import Database
from portal.core.models import NotebookRun, PredictionRun
from portal.core.states import RunStatus

HOUR, DAY = "hour", "day"
MAX_ROWS = 100_000  # runs or audit entries read for one chart: the newest ones beyond this are not counted


@dataclass(frozen=True)
class Count:
    bucket: datetime  # the start of the hour or day (UTC)
    model: str  # name:version
    what: str  # the predicted class, or "" where classes are not stored
    samples: int


def bucket_start(when: datetime, bucket: str) -> datetime:
    when = when.astimezone(timezone.utc)
    if bucket == HOUR:
        return when.replace(minute=0, second=0, microsecond=0)
    if bucket == DAY:
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"bucket must be {HOUR!r} or {DAY!r}, not {bucket!r}")


def _counted(pairs) -> list[Count]:
    return [Count(bucket=b, model=m, what=w, samples=n) for (b, m, w), n in sorted(pairs.items()) if n]


def run_predictions(db: Database, since: datetime, bucket: str = DAY) -> list[Count]:
    """Samples predicted in finished prediction runs, per bucket of their finish, model version and class."""
    counts: Counter = Counter()
    query = (select(PredictionRun.finished_at, PredictionRun.model_name, PredictionRun.model_version,
                    PredictionRun.summary)
             .where(PredictionRun.status == RunStatus.DONE, PredictionRun.finished_at >= since)
             .order_by(PredictionRun.finished_at.desc()).limit(MAX_ROWS))
    with db.session() as session:
        for finished, name, version, summary in session.execute(query):
            predicted = (summary or {}).get("predicted") or {}
            for class_name, n in predicted.items():
                counts[(bucket_start(finished, bucket), f"{name}:{version}", str(class_name))] += int(n)
    return _counted(counts)


def api_predictions(db: Database, since: datetime, bucket: str = DAY) -> list[Count]:
    """Samples predicted through the API (its audit entries), per bucket and model version; `what` is ""
    because the audit entry does not hold the classes."""
    counts: Counter = Counter()
    for at, target, details in audit.succeeded_since("api.predict", since, MAX_ROWS, db=db):
        samples = details.get("samples")
        if isinstance(samples, int) and not isinstance(samples, bool):
            counts[(bucket_start(at, bucket), target or "unknown", "")] += samples
    return _counted(counts)


@dataclass(frozen=True)
class JobStates:
    prediction_runs: dict[str, int]  # every RunStatus, 0 where none
    notebook_runs: dict[str, int]


def jobs_by_state(db: Database, since: datetime) -> JobStates:
    """Prediction runs and notebook runs created since `since`, by the state each is in now."""
    def count(table) -> dict[str, int]:
        with db.session() as session:
            found = dict(session.execute(select(table.status, func.count()).where(table.created_at >= since)
                                         .group_by(table.status)).all())
        return {str(state): int(found.get(state, 0)) for state in RunStatus}
    return JobStates(prediction_runs=count(PredictionRun), notebook_runs=count(NotebookRun))


@dataclass(frozen=True)
class Activity:
    since: datetime
    bucket: str
    runs: list[Count]
    api: list[Count]
    jobs: JobStates


def activity(db: Database, days: int, now: datetime | None = None) -> Activity:
    """The page's database charts over the last `days` days: hourly buckets for a day or two, daily beyond."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    bucket = HOUR if days <= 2 else DAY
    return Activity(since=since, bucket=bucket, runs=run_predictions(db, since, bucket),
                    api=api_predictions(db, since, bucket), jobs=jobs_by_state(db, since))
