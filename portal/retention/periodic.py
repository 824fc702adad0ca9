"""The periodic purge where Celery runs: a task and a beat entry on the deployment's Celery app
(portal/worker.py installs them), so that `celery -A portal.worker beat` schedules it and any worker runs
it. Without Celery (one machine, diskcache jobs) run `python -m portal purge` from cron or a systemd timer."""
from __future__ import annotations

from datetime import timedelta

from portal.core.context import standalone
from portal.core.settings import Settings
from portal.retention import purge

TASK = "cancer_alpha.retention.purge"
ENTRY = "retention-purge"
EVERY = timedelta(hours=1)  # a record is kept at most this long past the retention policy


def run_purge(settings: Settings) -> dict:
    """One purge of the deployment's data; its counts (the task's result)."""
    report = purge.purge(standalone(settings))
    return {"uploads": len(report.uploads), "runs": len(report.runs), "notebook_runs": len(report.notebook_runs),
            "files_removed": report.files_removed, "left_active": len(report.left_active)}


def install(celery, settings: Settings) -> None:
    """Register the purge task on `celery` and schedule it every EVERY in its beat schedule."""
    def purge_task() -> dict:
        return run_purge(settings)

    celery.task(name=TASK)(purge_task)
    schedule = dict(celery.conf.beat_schedule or {})
    schedule[ENTRY] = {"task": TASK, "schedule": EVERY}
    celery.conf.beat_schedule = schedule
