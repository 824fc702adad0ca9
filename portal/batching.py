"""One thread per owner that takes work handed in by request threads and handles what has gathered in one go.

Nobody waits on purpose: a batch is whatever arrived while the last one was handled. The thread ends after
`idle_seconds` without work and is started again by the next item, also in a forked child (which inherits no
threads), so an idle portal, or a test's, holds no thread."""
from __future__ import annotations

import os
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class BatchingThread(Generic[T]):
    def __init__(self, handle: Callable[[list[T]], None], name: str, max_batch: int = 256,
                 idle_seconds: float = 2.0, on_exit: Callable[[], None] | None = None):
        self._handle, self._name, self._max_batch = handle, name, max_batch
        self._idle_seconds, self._on_exit = idle_seconds, on_exit
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: list[T] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, item: T) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread and queue are not ours
                self._pid, self._thread, self._queue = os.getpid(), None, []
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            else:
                self._arrived.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._arrived.wait(self._idle_seconds)
                    if not self._queue:
                        self._thread = None  # under the lock: the next submit starts a new thread
                        return
                    batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                self._handle(batch)  # must not raise: each owner hands its errors to whoever waits
        finally:
            if self._on_exit is not None:
                self._on_exit()
