"""A shared service that may fail (Redis): after a failure it is left alone for `retry_seconds` (no request
waits on a dead connection), then tried again; the outage and its end are each logged once, not per request."""
from __future__ import annotations

import logging
import threading
import time


class Outage:
    def __init__(self, log: logging.Logger, down_message: str, back_message: str, retry_seconds: float):
        self._log, self._down, self._back, self.retry_seconds = log, down_message, back_message, retry_seconds
        self._off_until: float | None = None  # monotonic time until which the service is left alone; None: up
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        with self._lock:
            return self._off_until is None or time.monotonic() >= self._off_until

    def failed(self, error: Exception) -> None:
        with self._lock:
            first, self._off_until = self._off_until is None, time.monotonic() + self.retry_seconds
        if first:
            self._log.warning(self._down, type(error).__name__, self.retry_seconds)

    def answered(self) -> None:
        with self._lock:
            back, self._off_until = self._off_until is not None, None
        if back:
            self._log.info(self._back)
