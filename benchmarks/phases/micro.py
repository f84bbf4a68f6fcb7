"""The in-memory micro benchmarks (benchmarks/bench_ingest.py, bench_aggregate.py),
run in a child process so their corpora neither share the harness's CPU caches nor
count in its RSS. Each is optional: a missing or failing module is reported, not fatal.

    python -m benchmarks.phases.micro N    # prints one JSON object
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import traceback

import orjson

from benchmarks.phases.common import ROOT

MODULES = {"bench_ingest": "n", "bench_aggregate": "n_events"}


def measure(n: int) -> dict:
    out: dict[str, dict] = {}
    for name, arg in MODULES.items():
        try:
            mod = importlib.import_module(f"benchmarks.{name}")
        except Exception as exc:  # absent or broken: report it
            out[name] = {"error": f"not importable: {exc!r}"}
            continue
        try:
            out[name] = mod.run(**{arg: n})
        except Exception as exc:
            out[name] = {"error": repr(exc), "traceback": traceback.format_exc(limit=5)}
    return out


def run(n: int, report, timeout: float = 240.0) -> dict:
    report(f"micro: in-memory benchmarks ({', '.join(MODULES)}) on {n:,} events each")
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.phases.micro", str(n)], cwd=ROOT,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {name: {"error": f"timed out after {timeout:.0f}s"} for name in MODULES}
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")[-2000:]
        return {name: {"error": f"exit status {proc.returncode}: {err}"} for name in MODULES}
    result = orjson.loads(proc.stdout.strip().splitlines()[-1])
    for name, r in result.items():
        shown = {k: v for k, v in r.items() if k != "traceback" and not isinstance(v, dict)}
        report(f"  {name}: {shown}")
    return result


if __name__ == "__main__":
    sys.stdout.write(orjson.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)).decode() + "\n")
