"""The one-machine rate-limit storage: limits' own memory storage and strategies, without a thread started
per hit; expired counters still go."""
from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from portal.rate_limit_storage import SweptMemoryStorage


def test_the_scheme_gives_the_swept_storage_and_limits_hold():
    storage = storage_from_string("cancer-alpha-memory://")
    assert isinstance(storage, SweptMemoryStorage)
    limiter, limit = FixedWindowRateLimiter(storage), parse("3 per minute")
    assert [limiter.hit(limit, "caller-a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "caller-b")  # per caller


def test_no_thread_is_started_per_hit(monkeypatch):
    storage = storage_from_string("cancer-alpha-memory://")
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    limiter, limit = FixedWindowRateLimiter(storage), parse("1000000 per minute")
    for n in range(200):
        limiter.hit(limit, f"caller-{n % 5}")
        if n % 50 == 49:
            time.sleep(0.015)  # past the end of limits' own 10 ms timer, had one been started
    assert started == []


def test_expired_counters_are_swept_on_a_later_hit():
    storage = SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    limiter.hit(parse("5 per second"), "gone-soon")
    assert "gone-soon" in "".join(storage.storage)
    time.sleep(1.1)
    storage._next_sweep = 0.0  # the sweep is due
    limiter.hit(parse("5 per minute"), "someone-else")
    assert "gone-soon" not in "".join(storage.storage) and "someone-else" in "".join(storage.storage)
