"""One small cache for every owner that keeps computed values (the Registry, the portal's context):
bounded (least recently used entries go first), optionally expiring, and safe to share between threads.

A cache belongs to an object, never to a module, so that a test builds a fresh owner instead of
clearing private globals, and two registries or two portals in one process never see each other's
entries."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
_MISSING = object()


class BoundedCache(Generic[V]):
    """At most `maxsize` entries; with `ttl` (seconds), an entry older than that is computed again.

    `get_or_create(key, make)` computes a missing value once: concurrent callers of the same key wait
    for the first one's value, while readers and makers of other keys go on (a slow `make`, such as
    fitting a projection or unpickling a model, holds only its own key's lock)."""

    def __init__(self, maxsize: int, ttl: float | None = None):
        if maxsize < 1:
            raise ValueError("a cache holds at least one entry")
        self.maxsize, self.ttl = maxsize, ttl
        self._entries: OrderedDict[Hashable, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}  # key -> lock held while its value is made

    def get(self, key: Hashable, default=None):
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is _MISSING:
                return default
            value, stored = found
            if self.ttl is not None and time.monotonic() - stored >= self.ttl:
                del self._entries[key]
                return default
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            self._entries[key] = (value, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return value

    def get_or_create(self, key: Hashable, make: Callable[[], V]) -> V:
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            value = self.get(key, _MISSING)  # made by the caller we waited for
            if value is _MISSING:
                value = self.put(key, make())
        with self._lock:
            self._making.pop(key, None)
        return value

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key, _MISSING) is not _MISSING
