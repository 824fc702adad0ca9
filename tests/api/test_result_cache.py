"""The API's result cache: in each process's memory on one machine; on Redis written off the response path, so
that what a request hands in is a hit in its own process at once, is stored by the writer thread for other
processes, and is dropped, not queued without end, when writes fall behind. Made-up entries (no model behind
them); Redis database 15 of the test server."""
from __future__ import annotations

import os
import threading
import time

import pytest
import redis

from portal.api import cache as result_cache
from portal.api.cache import ResultCache

REDIS_URL = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/15"


def _eventually(check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def redis_url():
    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    yield REDIS_URL
    store.flushdb()


def test_one_machine_keeps_entries_in_memory():
    cache = ResultCache(None)
    cache.set_many({"k0": {"class": "made-up"}})
    assert cache.get_many(["k0", "absent"]) == [{"class": "made-up"}, None]
    assert ResultCache(None).get_many(["k0"]) == [None]  # another process's memory


def test_a_handed_in_entry_is_a_hit_at_once_and_stored_for_other_processes(redis_url):
    here = ResultCache(redis_url)
    entries = {f"k{n}": {"class": "made-up", "n": n} for n in range(3)}
    here.set_many(entries)
    assert here.get_many(["k0", "k1", "k2", "absent"]) == [*entries.values(), None]
    other = ResultCache(redis_url)  # another process on the same Redis
    assert _eventually(lambda: other.get_many(["k0", "k1", "k2"]) == list(entries.values()))
    assert _eventually(lambda: not here._pending)


def test_writes_that_fall_behind_are_dropped(redis_url, monkeypatch):
    monkeypatch.setattr(result_cache, "MAX_PENDING", 5)
    cache = ResultCache(redis_url)
    gate = threading.Event()
    stored = cache._store
    monkeypatch.setattr(cache._writes, "_handle", lambda batch: (gate.wait(10), stored(batch)))
    cache.set_many({f"a{n}": {"n": n} for n in range(4)})
    cache.set_many({f"b{n}": {"n": n} for n in range(4)})  # 8 > 5 waiting: dropped
    assert sorted(cache._pending) == ["a0", "a1", "a2", "a3"]
    gate.set()
    assert _eventually(lambda: not cache._pending)
    assert cache.get_many(["a0", "b0"]) == [{"n": 0}, None]
