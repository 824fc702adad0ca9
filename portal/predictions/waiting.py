"""Runs waiting for a worker. A queued run is picked up by a background worker (diskcache's job process,
or a Celery worker); when none does within the queue timeout (CANCER_ALPHA_QUEUE_TIMEOUT_SECONDS), its
page says so instead of "queued" forever, and its owner (or an admin) may retry it: the job is started
again, and since only a queued run can be claimed (portal.jobs.states.claim), the original job, should
it still come, finds the run taken and stops."""
from __future__ import annotations

from datetime import datetime, timezone

from portal.accounts import audit
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunStatus
from portal.predictions import runs


def seconds_waiting(run: PredictionRun, now: datetime | None = None) -> float:
    """How long a queued run has waited for a worker (0 for any other status)."""
    if run.status != RunStatus.QUEUED:
        return 0.0
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=timezone.utc)
    return max(0.0, ((now or datetime.now(timezone.utc)) - created).total_seconds())


def stalled(portal: Portal, run: PredictionRun, now: datetime | None = None) -> bool:
    """True when no worker picked the queued run up within the queue timeout."""
    return seconds_waiting(run, now) > portal.settings.queue_timeout_seconds


def status_words(portal: Portal, run: PredictionRun, now: datetime | None = None) -> str:
    """What the run page says about a run that is still going."""
    if run.status == RunStatus.RUNNING:
        return f"Running: {run.progress_done:,} of {run.progress_total:,} samples predicted."
    waited = seconds_waiting(run, now)
    if waited > portal.settings.queue_timeout_seconds:
        return (f"No worker picked this run up in {_duration(waited)}: the background workers may be down. "
                f"Retry starts it again; if it still waits, ask an operator to check the workers.")
    return f"Queued: waiting for a worker to pick it up ({_duration(waited)} so far)."


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} minutes" if seconds < 7200 else f"{seconds / 3600:.1f} hours"


def retry(portal: Portal, run_id: str, user_id: int, role: str) -> PredictionRun:
    """Check that the user may retry the run (its owner or an admin) and that it is stalled; audited.
    The caller starts the job again."""
    run = runs.get_run(portal, run_id, user_id, role)  # WRITE: the owner or an admin
    if run.status != RunStatus.QUEUED:
        raise runs.RunError(f"this run is {run.status}: only a run waiting for a worker can be retried", 409)
    if not stalled(portal, run):
        raise runs.RunError(f"this run has waited {_duration(seconds_waiting(run))} of the "
                            f"{portal.settings.queue_timeout_seconds} s a worker is given; wait a little", 409)
    audit.record("prediction.retry", target=run.id, details={"waited_seconds": round(seconds_waiting(run))})
    return run
