"""ingest: the real ingest stage alone (`sluice run --stage ingest`, i.e.
streams/ingest/worker.py IngestWorker, started by sluice.stack.Stack with
stages=("ingest",)) over the pre-filled raw topics, in its own process.

Each ingest batch is a Kafka transaction carrying its output records and the
consumed offsets, so the ingest group's committed offsets on the raw topics say
exactly how many records have their normalized output visible. Timed from the
first committed batch (after start-up and the group join) until the committed
offsets account for all `total` records (or for
`max_seconds`, when the worker is slow). Afterwards the normalized topics and the
DLQ are read (read_committed) to check they hold one record per input record.
Per core = events/s divided by the cores the worker process used over the same
span (psutil cpu_times / wall time)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from benchmarks.phases.common import Offsets, RssMonitor, TopicCounter
from sluice.settings import load_settings
from sluice.stack import Stack


def run(bootstrap: str, prefix: str, total: int, partitions: int, work_dir: Path, report, monitor: RssMonitor,
        max_seconds: float = 30.0, timeout: float = 180.0, profiler=None) -> dict:
    settings = load_settings(data_dir=work_dir, **{
        "kafka.bootstrap_servers": bootstrap, "kafka.topic_prefix": prefix, "kafka.partitions": partitions,
        "ingest.workers": 1})  # one worker: its CPU is the per-core figure
    topics = settings.kafka.topics
    offsets = Offsets(settings.kafka)
    stack = Stack(settings, stages=("ingest",))
    report(f"ingest: starting the ingest worker (log: {stack.log_dir}); {total:,} raw records")
    started = time.monotonic()
    stack.start()
    monitor.watch_stack(stack)
    worker = stack.child("ingest-0")
    ps = psutil.Process(worker.proc.pid)
    if profiler is not None:
        profiler.start({"ingest-0": worker.proc.pid})
    t0 = d0 = cpu0 = None
    last_report = time.monotonic()
    done = 0
    counter = TopicCounter(settings.kafka, [*topics.normalized_all, topics.dlq])
    try:
        while True:
            if not worker.alive:
                raise RuntimeError(f"the ingest worker exited with status {worker.proc.returncode}; "
                                   f"see {worker.log_path}")
            now = time.monotonic()
            if now - started > timeout:
                raise TimeoutError(f"ingest processed {done:,} of {total:,} records within {timeout:.0f}s")
            done = sum(offsets.committed(settings.ingest.group, topics.raw_all).values())
            sample_t = time.monotonic()
            cpu = ps.cpu_times()
            if t0 is None and done > 0:
                t0, d0, cpu0 = sample_t, done, cpu.user + cpu.system
                report(f"  ingest: first batch committed after {t0 - started:.1f}s (start-up and group join)")
            if done >= total or (t0 is not None and sample_t - t0 >= max_seconds):
                t1, cpu1 = sample_t, cpu.user + cpu.system
                break
            if now - last_report >= 2:
                last_report = now
                report(f"  ingest: {done:,} / {total:,} records committed")
            time.sleep(0.05)
        complete = None
        if done >= total:
            counter.start()
            complete = counter.wait_for(total, 30)
    finally:
        counter.stop()
        offsets.close()
        stack.close()
        if profiler is not None:
            profiler.stop()
        monitor.unwatch("ingest-")
    seconds = t1 - t0
    eps = (done - d0) / seconds if seconds > 0 else None
    cores = (cpu1 - cpu0) / seconds if seconds > 0 else None
    per_core = eps / cores if eps and cores else None
    checked = f"; {counter.count:,} output events for {done:,} inputs" if complete is not None else \
        f" (measured over {done - d0:,} records in {seconds:.0f}s)"
    report(f"  ingest: {eps or 0:,.0f} events/s on {cores or 0:.2f} cores = {per_core or 0:,.0f} events/s per core"
           + checked)
    return {"ingest_events_per_s": round(eps, 1) if eps else None,
            "ingest_cores_used": round(cores, 3) if cores else None,
            "ingest_events_per_s_per_core": round(per_core, 1) if per_core else None,
            "ingest_records": done, "ingest_seconds": round(seconds, 3),
            "ingest_output_records": counter.count, "ingest_output_complete": complete,
            "ingest_startup_s": round(t0 - started, 2)}
