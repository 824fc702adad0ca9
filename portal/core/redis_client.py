"""A Redis client for what must not wait on a Redis that is down: readiness, /metrics, the workers'
heartbeat, the API's result cache. Connect and reply times are bounded and nothing is retried (redis-py
retries three times with backoff by default: seconds a request or a scrape would wait)."""
from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

TIMEOUT_SECONDS = 0.5


def connect(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS,
                                retry=Retry(NoBackoff(), 0))
