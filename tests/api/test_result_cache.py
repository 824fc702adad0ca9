"""The API's result cache writes off the response path: what a request hands in is a hit in its own process at
once, is stored by the writer thread for other processes, and is dropped, not queued without end, when writes
fall behind. Made-up entries (no model behind them)."""
from __future__ import annotations

import threading
import time

from portal.api import cache as result_cache
from portal.api.cache import ResultCache


def _eventually(check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_handed_in_entry_is_a_hit_at_once_and_stored_for_other_processes(tmp_path):
    here = ResultCache(None, tmp_path / "cache")
    entries = {f"k{n}": {"class": "made-up", "n": n} for n in range(3)}
    here.set_many(entries)
    assert here.get_many(["k0", "k1", "k2", "absent"]) == [*entries.values(), None]
    other = ResultCache(None, tmp_path / "cache")  # another process on the same folder
    assert _eventually(lambda: other.get_many(["k0", "k1", "k2"]) == list(entries.values()))
    assert _eventually(lambda: not here._pending)


def test_writes_that_fall_behind_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(result_cache, "MAX_PENDING", 5)
    cache = ResultCache(None, tmp_path / "cache")
    gate = threading.Event()
    stored = cache._store
    monkeypatch.setattr(cache._writes, "_handle", lambda batch: (gate.wait(10), stored(batch)))
    cache.set_many({f"a{n}": {"n": n} for n in range(4)})
    cache.set_many({f"b{n}": {"n": n} for n in range(4)})  # 8 > 5 waiting: dropped
    assert sorted(cache._pending) == ["a0", "a1", "a2", "a3"]
    gate.set()
    assert _eventually(lambda: not cache._pending)
    assert cache.get_many(["a0", "b0"]) == [{"n": 0}, None]
