"""What `/api/v1/ready` answers: whether this process can serve, for a load balancer or Kubernetes'
readiness probe (`/api/v1/health` stays the liveness check).

- the database answers a `select 1` (else not ready: nothing works without it);
- every model with a production alias loads (its artifact's sha256 verified before unpickling; the registry
  keeps a loaded model, so only the first check reads the file) (else not ready);
- Redis, when one is set, answers a PING. A Redis that is down leaves the process *degraded*, not unready: the
  API keeps answering with in-memory rate limits and no result cache, and every pod shares the same Redis, so
  taking them all out of rotation would turn a Redis outage into a portal outage. Background runs on Celery
  wait for Redis meanwhile; the body says so.

No check's answer holds a URL, a password or a stack trace: only what failed, in words."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import redis
from sqlalchemy import text

from engine.registry import PRODUCTION_ALIAS
from portal.core.redis_client import connect

log = logging.getLogger(__name__)

READY, DEGRADED, NOT_READY = "ready", "degraded", "not ready"


@dataclass(frozen=True)
class Verdict:
    status: str  # READY, DEGRADED or NOT_READY
    checks: dict[str, str]  # what was checked -> "ok" or what is wrong

    @property
    def http_status(self) -> int:
        return 503 if self.status == NOT_READY else 200


class Readiness:
    """The checks of one portal. Owns its Redis client, and remembers whether Redis was down so that an
    outage and its end are each logged once, not on every probe."""

    def __init__(self, db, registry, redis_url: str | None):
        self.db = db
        self.registry = registry
        self.redis = connect(redis_url) if redis_url else None
        self._redis_down = False
        self._lock = threading.Lock()

    def check(self) -> Verdict:
        checks = {"database": self._database(), **self._models()}
        if self.redis is not None:
            checks["redis"] = self._redis()
        blocking = [name for name, outcome in checks.items() if outcome != "ok" and name != "redis"]
        if blocking:
            return Verdict(NOT_READY, checks)
        return Verdict(DEGRADED if checks.get("redis", "ok") != "ok" else READY, checks)

    def _database(self) -> str:
        try:
            with self.db.engine.connect() as connection:
                connection.execute(text("select 1"))
            return "ok"
        except Exception as error:  # any driver error: the database is not usable from here
            log.warning("readiness: database unreachable (%s)", type(error).__name__)
            return "unreachable"

    def _models(self) -> dict[str, str]:
        outcomes = {}
        for name in self.registry.models():
            version = self.registry.aliases(name).get(PRODUCTION_ALIAS)
            if version is None:
                continue
            try:
                self.registry.load(self.registry.get(name, version))
                outcomes[f"model:{name}"] = "ok"
            except Exception as error:  # a changed artifact, a missing file: named, not raised
                log.warning("readiness: model %s v%s does not load (%s)", name, version, type(error).__name__)
                outcomes[f"model:{name}"] = f"version {version} does not load ({type(error).__name__})"
        if not outcomes:
            outcomes["models"] = "no model has a production version"
        return outcomes

    def _redis(self) -> str:
        try:
            self.redis.ping()
            down = False
        except redis.RedisError:
            down = True
        with self._lock:
            changed, self._redis_down = down != self._redis_down, down
        if changed and down:
            log.warning("Redis is down: the API answers with in-memory rate limits and no result cache; "
                        "background runs on Celery wait for it")
        elif changed:
            log.info("Redis answers again")
        return "down: rate limits in memory per process, result cache off, Celery runs waiting" if down else "ok"
