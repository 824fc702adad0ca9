"""The Celery worker and beat of a deployment with Redis: `celery -A portal.worker worker` and
`celery -A portal.worker beat`.

It builds the portal from the same CANCER_ALPHA_* environment as the web processes, so the background
callbacks register the same Celery tasks, and the jobs reach the same database and storage. The
chunk and combine tasks of large prediction runs (portal.jobs.batch) are registered here too. The beat
schedule holds the retention purge (portal.retention.periodic: every hour, what is older than
CANCER_ALPHA_RETENTION_DAYS). (Celery looks for an attribute named `app` or `celery`: only `celery` is
defined here.)"""
from portal.app import create_app
from portal.core import context
from portal.jobs import batch
from portal.jobs.managers import MANAGER
from portal.jobs.worker_heartbeat import HeartbeatStep
from portal.retention import periodic

_portal = create_app()
celery = getattr(_portal.server.extensions[MANAGER], "handle", None)
if celery is None or not hasattr(celery, "worker_main"):
    raise SystemExit("CANCER_ALPHA_REDIS_URL is not set: background jobs use diskcache, no worker is needed "
                     "(purge with `python -m portal purge` from cron or a systemd timer)")
periodic.install(celery, _portal.server.extensions[context.EXTENSION].settings)
batch.install(celery, _portal.server.extensions[context.EXTENSION].settings)  # chunks of large runs
celery.steps["worker"].add(HeartbeatStep)  # alive in Redis: /metrics counts the workers
