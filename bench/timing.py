"""The one timing rule of the benchmarks: a warm-up run, then the median of repeated runs."""
from __future__ import annotations

import statistics
import time


def median_ms(action, repeat: int = 20) -> float:
    action()  # warm-up: lazy imports, caches, explainer construction
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
