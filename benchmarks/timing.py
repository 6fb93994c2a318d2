"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import time

SETTLE = 0.05
"""Pause before each repeat, in seconds: NumPy and SciPy (called by Numba) ship two OpenBLAS builds whose idle
threads spin for a while after a call and would steal the cores from the next measurement."""


def best_of(fn, repeats: int = 3, settle: float = SETTLE, clock=time.perf_counter) -> float:
    """Shortest time of ``repeats`` calls of ``fn``, each after a pause of ``settle`` seconds, on ``clock`` (wall time;
    ``time.process_time`` gives this process's CPU seconds, which other jobs sharing the cores inflate far less)."""
    times = []
    for _ in range(repeats):
        time.sleep(settle)
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)
