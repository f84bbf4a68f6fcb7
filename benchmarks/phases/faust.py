"""faust baseline: a faust-streaming agent normalizing and forwarding event by event
(benchmarks/faust_baseline.py, in a subprocess) over the pre-filled raw topics.
Timed by reading the output topics (normalized + dead letters: one output record
per input record) from the first output record until `n` of them (or for
`max_seconds`, whichever comes first)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.phases.common import (
    ROOT,
    RssMonitor,
    TopicCounter,
    create_topics,
    kafka_config,
    stop_process,
    unique_prefix,
)


def run(bootstrap: str, in_prefix: str, n: int, partitions: int, work_dir: Path, report, monitor: RssMonitor,
        max_seconds: float = 20.0, timeout: float = 240.0, mode: str = "normalize") -> dict:
    out_prefix = unique_prefix("faust")
    kafka = kafka_config(bootstrap, out_prefix, partitions)
    create_topics(kafka)
    (work_dir / "data").mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "faust.log"
    counter = TopicCounter(kafka, [*kafka.topics.normalized_all, kafka.topics.dlq]).start()
    report(f"faust: starting the faust-streaming worker (log: {log_path}); target {n:,} records")
    started = time.monotonic()
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.faust_baseline", "--broker", bootstrap, "--in-prefix", in_prefix,
             "--out-prefix", out_prefix, "--partitions", str(partitions), "--data-dir", str(work_dir / "data"),
             "--mode", mode],
            cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    monitor.watch("faust", proc.pid)
    ps = psutil.Process(proc.pid)
    t0 = c0 = cpu0 = None
    count = 0
    last_report = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the faust worker exited with status {proc.returncode}; see {log_path}")
            now = time.monotonic()
            if now - started > timeout:
                raise TimeoutError(f"faust forwarded {count:,} of {n:,} records within {timeout:.0f}s")
            count = counter.count
            if t0 is None and count > 0:
                t0, c0 = time.monotonic(), count
                cpu = ps.cpu_times()
                cpu0 = cpu.user + cpu.system
                report(f"  faust: first output after {t0 - started:.1f}s (start-up and group join)")
            if count >= n or (t0 is not None and time.monotonic() - t0 >= max_seconds):
                t1 = time.monotonic()
                cpu = ps.cpu_times()
                cpu1 = cpu.user + cpu.system
                break
            if now - last_report >= 3:
                last_report = now
                report(f"  faust: forwarded {count:,} / {n:,}")
            time.sleep(0.05)
    finally:
        counter.stop()
        stop_process(proc)
        monitor.unwatch("faust")
    seconds = t1 - t0
    eps = (count - c0) / seconds if seconds > 0 else None
    cores = (cpu1 - cpu0) / seconds if seconds > 0 else None
    report(f"  faust: {eps or 0:,.0f} events/s on {cores or 0:.2f} cores")
    return {"faust_events_per_s": round(eps, 1) if eps else None,
            "faust_mode": mode, "faust_records": count, "faust_seconds": round(seconds, 3),
            "faust_cores_used": round(cores, 3) if cores else None,
            "faust_startup_s": round(t0 - started, 2)}
