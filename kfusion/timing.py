"""Wall-clock timing of callables (median seconds, latency and throughput) and the cores they run on.

Used by ``kfusion export`` (the speed table of an export) and by ``kfusion bench``. A call counts as
finished when its outputs are numpy arrays, so asynchronous (accelerator) work is inside the time.
"""
import os
import time

import numpy as np


def cpu_cores():
    """CPU cores this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def interleaved_medians(fns, xs, repeats, warmup=2):
    """Median seconds per call of each ``fn(x)``, the calls alternating so that every function
    sees the same machine load (the machine may be shared)."""
    for fn, x in zip(fns, xs):
        for _ in range(warmup):
            fn(x)
    times = [[] for _ in fns]
    for _ in range(max(1, int(repeats))):
        for i, (fn, x) in enumerate(zip(fns, xs)):
            t0 = time.perf_counter()
            out = fn(x)
            _ = [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
            times[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def time_calls(fn, x, repeats=20, warmup=2):
    """Median seconds of ``fn(x)`` over ``repeats`` calls after ``warmup`` calls."""
    return interleaved_medians([fn], [x], repeats, warmup)[0]


def latency_throughput(fn, size, repeats=20, batch=32, seed=0):
    """(batch-1 latency ms, batch-``batch`` images/s) of ``fn`` on random uint8 crops (N, S, S, 3)."""
    rng = np.random.default_rng(seed)
    one = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    many = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    latency = time_calls(fn, one, repeats)
    per_batch = time_calls(fn, many, max(repeats // 4, 2), warmup=1)
    return latency * 1e3, batch / per_batch
