"""Each Celery worker says it is alive: a key in Redis, `cancer_alpha:worker:<node name>`, set with a TTL and
refreshed every HEARTBEAT_SECONDS by a thread the worker starts (a Celery bootstep), and deleted when the
worker stops. A worker that dies or loses Redis lets its key expire, and the portal's /metrics, which counts
the keys (portal.jobs.queue_metrics), reports one worker fewer within HEARTBEAT_TTL.

A thread and not Celery's own timer: the timer runs on the worker's event loop, which a long task holds up
in the solo pool, and a busy worker is not a gone one."""
from __future__ import annotations

import logging
import threading

import redis
from celery import bootsteps

from portal.core.redis_client import connect

log = logging.getLogger(__name__)

KEY_PREFIX = "cancer_alpha:worker:"
HEARTBEAT_SECONDS = 10
HEARTBEAT_TTL = 30  # three beats: one slow write to Redis does not count a worker as gone


def heartbeat_key(node_name: str) -> str:
    # by node name (celery@host), which Celery keeps unique: a restarted worker takes its old key over
    return KEY_PREFIX + node_name


def beat(client: redis.Redis, node_name: str, ttl: int = HEARTBEAT_TTL) -> None:
    client.set(heartbeat_key(node_name), "alive", ex=ttl)


class Heartbeat:
    """The beating thread of one worker: start() beats at once and then every `interval` seconds; stop()
    ends the thread and deletes the key, so a worker stopped on purpose is gone at once."""

    def __init__(self, client: redis.Redis, node_name: str, interval: float = HEARTBEAT_SECONDS):
        self.client = client
        self.node_name = node_name
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cancer-alpha-heartbeat", daemon=True)

    def start(self) -> None:
        # The first beat in the starting (main) thread: a Redis connection's first use imports modules lazily
        # (redis reads its version through importlib.metadata). Done in the thread while the pool forks its
        # processes, a child inherited a half-imported module and its held import lock, and hung for good at
        # its own first connection (seen: a batch chunk that never reported success).
        self._beat()
        self._thread.start()

    def _beat(self) -> None:
        try:
            beat(self.client, self.node_name)
        except redis.RedisError as error:  # Redis away for a while: the key expires, beats resume after
            log.warning("worker heartbeat not written: %s", error)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self._beat()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval)
        try:
            self.client.delete(heartbeat_key(self.node_name))
        except redis.RedisError as error:
            log.warning("worker heartbeat not removed (it expires in %s s): %s", HEARTBEAT_TTL, error)


class HeartbeatStep(bootsteps.StartStopStep):
    """Celery bootstep (`celery.steps["worker"].add(HeartbeatStep)`): a Heartbeat for the worker's node name,
    on the worker's broker (the portal's Redis). Celery calls start and stop (a cold shutdown's terminate
    falls back to stop)."""

    def create(self, worker):
        return Heartbeat(connect(worker.app.conf.broker_url), worker.hostname)
