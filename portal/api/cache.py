"""The API's result cache: the same sample for the same model artifact is answered from here.
diskcache (a folder under var/) by default, Redis when a Redis URL is set. Keys are the artifact's
sha256, the request's options and the sample's values; entries hold no sample ids."""
from __future__ import annotations

import hashlib
import json
import logging

import numpy as np

log = logging.getLogger(__name__)
TTL_SECONDS = 24 * 3600


def cache_key(sha256: str, options: str, row: np.ndarray) -> str:
    digest = hashlib.sha256(sha256.encode() + options.encode() + np.ascontiguousarray(row, dtype=np.float64).tobytes())
    return "cancer-alpha:api:" + digest.hexdigest()


class ResultCache:
    def __init__(self, redis_url: str | None, folder):
        if redis_url:
            import redis

            self._redis, self._disk = redis.Redis.from_url(redis_url, socket_timeout=0.5), None
        else:
            import diskcache

            self._redis, self._disk = None, diskcache.Cache(str(folder), size_limit=512 * 1024 * 1024)

    def get_many(self, keys: list[str]) -> list[dict | None]:
        try:
            if self._redis is not None:
                return [None if v is None else json.loads(v) for v in self._redis.mget(keys)]
            return [self._disk.get(k) for k in keys]
        except Exception as error:  # a cache that is down is a miss, never a failed request
            log.warning("result cache unavailable (%s): answering without it", error)
            return [None] * len(keys)

    def set_many(self, items: dict[str, dict]) -> None:
        try:
            if self._redis is not None:
                pipe = self._redis.pipeline()
                for key, value in items.items():
                    pipe.set(key, json.dumps(value), ex=TTL_SECONDS)
                pipe.execute()
            else:
                for key, value in items.items():
                    self._disk.set(key, value, expire=TTL_SECONDS)
        except Exception as error:
            log.warning("result cache unavailable (%s): not stored", error)
