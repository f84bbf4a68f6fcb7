"""What the differential tests of the C accelerators (test_*_accel.py) share: how two
results are compared exactly, and the hypothesis settings (SLUICE_PROP_EXAMPLES sets
the number of examples)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc

from hypothesis import HealthCheck, settings


def typed(x):
    """`x` with its types and the order of its keys spelled out (== on dicts ignores the
    order, on numbers the type); tuples of any kind (Decoded too) by their type's name."""
    if type(x) is dict:
        return ("dict", [(typed(k), typed(v)) for k, v in x.items()])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [typed(v) for v in x])
    if type(x) is float:
        return ("float", repr(x))
    return (type(x).__name__, x)


def props(examples: int = 400, *extra_checks: HealthCheck) -> settings:
    return settings(max_examples=int(os.environ.get("SLUICE_PROP_EXAMPLES", str(examples))), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, *extra_checks])


def switched(code: str) -> tuple[list[str], list[str]]:
    """The words `code` prints in a fresh interpreter with SLUICE_PURE_PYTHON=1, and
    without it (the C forms where they are built)."""
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_PURE_PYTHON"}
    runs = [subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
            for e in ({**env, "SLUICE_PURE_PYTHON": "1"}, env)]
    return runs[0].stdout.split(), runs[1].stdout.split()


def bytes_kept(run, warm: int, calls: int) -> int:
    """The memory still held (tracemalloc) after `run(calls)`, once `run(warm)` has filled
    every cache: what a C form keeps per call when it leaks."""
    run(warm)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(calls)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
