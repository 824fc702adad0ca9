"""Celery's queue and workers as Prometheus metrics, read from Redis when /metrics is scraped:
`cancer_alpha_queue_backlog{queue}`, the messages waiting in a queue (the length of its Redis list), and
`cancer_alpha_celery_workers`, the workers whose heartbeat key (portal.jobs.worker_heartbeat) has not expired.

Without a Redis URL (diskcache jobs, no workers) there is nothing to report. When Redis does not answer
within its timeout, both metrics are left out of that scrape and /metrics answers the rest: a gap in the
series, never a false 0 workers."""
from __future__ import annotations

import logging

import redis
from prometheus_client.core import GaugeMetricFamily

from portal.core.redis_client import connect
from portal.jobs.worker_heartbeat import KEY_PREFIX

log = logging.getLogger(__name__)

DEFAULT_QUEUES = ("celery",)  # Celery's default queue; its Redis transport keeps it as a list of that name


def queue_backlog(client: redis.Redis, queue: str) -> int:
    return int(client.llen(queue))


def count_workers(client: redis.Redis) -> int:
    # SCAN, not KEYS: Redis stays free for the broker while the keys are counted
    return sum(1 for _ in client.scan_iter(match=KEY_PREFIX + "*", count=500))


class QueueCollector:
    """A prometheus_client collector for portal.metrics.add_scrape_collector."""

    def __init__(self, redis_url: str | None, queues: tuple[str, ...] = DEFAULT_QUEUES):
        self.client = connect(redis_url) if redis_url else None
        self.queues = queues

    def collect(self):
        if self.client is None:
            return []
        try:
            backlogs = {queue: queue_backlog(self.client, queue) for queue in self.queues}
            workers = count_workers(self.client)
        except redis.RedisError as error:
            log.warning("queue metrics left out of this scrape: Redis did not answer (%s)", error)
            return []
        backlog = GaugeMetricFamily("cancer_alpha_queue_backlog", "Celery messages waiting in the queue",
                                    labels=["queue"])
        for queue, length in backlogs.items():
            backlog.add_metric([queue], length)
        alive = GaugeMetricFamily("cancer_alpha_celery_workers",
                                  "Celery workers alive (heartbeat keys in Redis not expired)", value=workers)
        return [backlog, alive]
