"""The API's result cache: the same sample for the same model artifact is answered from here.
Keys are the artifact's sha256, the request's options and the sample's values; entries hold no sample ids.

- One machine (no Redis URL): a bounded map in each process (MEMORY_ENTRIES, TTL_SECONDS). A cache shared by the
  workers on disk (diskcache, SQLite) cost about a millisecond of CPU a prediction in reads, writes and lock
  waits between workers, the model's own time again; with two workers a repeated sample is a miss at most once
  per worker.
- Production (a Redis URL): Redis, shared by every worker and pod. Writes are off the response path: a request
  hands its new entries to the cache's writer thread (portal.batching) and answers; until they are stored this
  process reads them from `_pending`, so a repeated sample is a hit at once here and in other processes once
  written. When writes fall behind by MAX_PENDING entries new ones are dropped: an entry is no record, and
  losing one costs one prediction.

A Redis cache that fails is off, not an error: lookups miss and nothing is stored, so the API answers from the
model. After a failure the cache is left alone for RETRY_SECONDS (no request waits on a dead connection), then
tried again; the outage and its end are each logged once, not per request."""
from __future__ import annotations

import hashlib
import json
import logging
import threading

import numpy as np

from engine.caching import BoundedCache
from portal.batching import BatchingThread
from portal.core.outage import Outage
from portal.core.redis_client import connect

log = logging.getLogger(__name__)
TTL_SECONDS = 24 * 3600
RETRY_SECONDS = 5.0
MAX_PENDING = 10_000
MEMORY_ENTRIES = 20_000  # about 1.5 KB each for 23 classes: 30 MB a process at most


def cache_key(sha256: str, options: str, row: np.ndarray) -> str:
    digest = hashlib.sha256(sha256.encode() + options.encode() + np.ascontiguousarray(row, dtype=np.float64).tobytes())
    return "cancer-alpha:api:" + digest.hexdigest()


class ResultCache:
    def __init__(self, redis_url: str | None):
        self._redis = connect(redis_url) if redis_url else None
        self._memory = None if redis_url else BoundedCache(MEMORY_ENTRIES, ttl=TTL_SECONDS)
        self._outage = Outage(log, "result cache unavailable (%s): off, the API answers without it; retried every %.0f s",
                              "result cache answers again", RETRY_SECONDS)
        self._lock = threading.Lock()
        self._pending: dict[str, dict] = {}  # handed to the writer, not stored yet
        self._writes = BatchingThread(self._store, "result-cache-writer")

    @property
    def available(self) -> bool:
        return self._outage.available

    def get_many(self, keys: list[str]) -> list[dict | None]:
        if self._memory is not None:
            return [self._memory.get(k) for k in keys]
        found = self._read(keys)
        with self._lock:
            if self._pending:
                found = [self._pending.get(k) if f is None else f for k, f in zip(keys, found)]
        return found

    def _read(self, keys: list[str]) -> list[dict | None]:
        if not self.available:
            return [None] * len(keys)
        try:
            found = [None if v is None else json.loads(v) for v in self._redis.mget(keys)]
        except Exception as error:  # a cache that is down is a miss, never a failed request
            self._outage.failed(error)
            return [None] * len(keys)
        self._outage.answered()
        return found

    def set_many(self, items: dict[str, dict]) -> None:
        """Keep the entries (in memory), or hand them to Redis's writer and return at once."""
        if self._memory is not None:
            for key, value in items.items():
                self._memory.put(key, value)
            return
        if not items or not self.available:
            return
        with self._lock:
            if len(self._pending) + len(items) > MAX_PENDING:
                return
            self._pending.update(items)
        self._writes.submit(items)

    def _store(self, batch: list[dict[str, dict]]) -> None:
        """The writer thread: store in Redis what requests handed in, in one round trip."""
        items = {key: value for part in batch for key, value in part.items()}
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, json.dumps(value), ex=TTL_SECONDS)
            pipe.execute()
            self._outage.answered()
        except Exception as error:
            self._outage.failed(error)
        finally:
            with self._lock:
                for key in items:
                    self._pending.pop(key, None)
