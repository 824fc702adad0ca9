"""The rate limits' in-memory storage (one machine, no Redis), without a thread per hit.

limits' MemoryStorage (under Flask-Limiter) starts a 10 ms threading.Timer on a hit whenever the last one has
ended, to drop expired counters: under load a new thread every other API request, about a tenth of a
millisecond each and a context switch. Expired counters are already dropped when they are read; this storage
sweeps the others on a hit at most once per SWEEP_SECONDS instead, so memory stays bounded by the callers of
the last window. Registered with limits as the `cancer-alpha-memory://` scheme (portal.core.settings)."""
from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage

SWEEP_SECONDS = 10.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["cancer-alpha-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self._sweeping = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces MemoryStorage's private timer start
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()
        finally:
            self._sweeping.release()


def register() -> type[SweptMemoryStorage]:
    """Defining the class registered its scheme with limits; importing this module is enough, and this names it."""
    return SweptMemoryStorage
