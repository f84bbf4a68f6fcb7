"""end to end: the synthetic collector publishing as fast as it can -> Kafka -> ingest
-> sink -> ClickHouse rows, for `seconds` (>= 60 in a full run), then drained.

e2e events/s = rows landed (sluice.summary.landed, measured in ClickHouse) / time
from the first timed publish to the moment every acknowledged record is a row.
The publisher holds off while more records are acknowledged but not yet landed
than the pipeline landed in the last 10 s (at least 100,000), so the broker's
backlog (and the drain at the end) stays bounded and the figure is the
pipeline's sustained rate, not the broker's buffer. Afterwards
missing (acknowledged ids absent from ClickHouse) and duplicates are counted
with sluice.summary."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.phases.common import RssMonitor, Throttle, cores_used, make_publisher
from benchmarks.phases.live import LandedPoller, LiveStack
from benchmarks.phases.stats import slope_per_min
from collectors.publisher import EVENTS_PER_RECORD, Publisher
from collectors.synthetic import SyntheticSource
from sluice import summary


def _spill_ids(pub: Publisher, out) -> None:
    """Move the acknowledged ids to disk (6 million ids would cost the harness ~500 MB)."""
    ids = pub.acked_ids
    if ids:
        pub.acked_ids = []
        out.write(b"\n".join(ids) + b"\n")


def lag_cap(samples: list[tuple[float, int]], floor: int = 100_000, horizon_s: float = 10.0,
            span_s: float = 5.0) -> int:
    """Records allowed in flight: what the pipeline landed in the last `span_s` seconds,
    scaled to `horizon_s` seconds of work (at least `floor`). Keeps the backlog, and the
    drain at the end, at about `horizon_s` seconds whatever the pipeline's speed."""
    if len(samples) < 2:
        return floor
    t_end, n_end = samples[-1]
    older = [(t, n) for t, n in samples if t <= t_end - span_s]
    t0, n0 = older[-1] if older else samples[0]
    if t_end <= t0:
        return floor
    return max(floor, int((n_end - n0) / (t_end - t0) * horizon_s))


def run(work_dir: Path, seconds: float, report, monitor: RssMonitor, drain_timeout: float = 120.0,
        profiler=None) -> dict:
    live = LiveStack(work_dir, "e2e", report, monitor)
    report(f"e2e: starting the embedded stack in {work_dir}")
    live.start()
    # as the demo's collector ships: JSON arrays of EVENTS_PER_RECORD events
    pub = make_publisher(live.kafka, track_ids=True, events_per_record=EVENTS_PER_RECORD)
    source = SyntheticSource(seed=11, events_per_record=EVENTS_PER_RECORD)
    ids_path = work_dir / "acked_ids.tsv"
    poller = None
    try:
        base = live.warm_up(pub, source)
        base_acked = pub.stats.acked
        report(f"  warm-up: {base:,} rows landed; publishing at the maximum rate for {seconds:.0f}s "
               f"(in flight at most ~10 s of landing)")
        with open(ids_path, "wb") as ids_out:
            _spill_ids(pub, ids_out)
            t_start = time.monotonic()
            poller = LandedPoller(live, 0.5).start(t_start)
            cpu0 = monitor.cpu_seconds()
            if profiler is not None:
                profiler.start(live.pids())
            tick = Throttle(3.0)
            throttled_s = 0.0
            max_lag, next_cap_at = lag_cap([]), 0.0
            produce = pub.publish
            batch = source.batch
            while True:
                now = time.monotonic()
                elapsed = now - t_start
                if elapsed >= seconds:
                    break
                if now >= next_cap_at:
                    max_lag, next_cap_at = lag_cap(poller.samples), now + 1.0
                if pub.stats.acked - poller.latest > max_lag:
                    pub.poll(0.05)
                    throttled_s += time.monotonic() - now
                else:
                    produce(batch(5000))
                if tick():
                    _spill_ids(pub, ids_out)
                    landed = poller.latest - base
                    report(f"  e2e {elapsed:5.0f}s  produced {pub.stats.total:>11,}  acked {pub.stats.acked:>11,}  "
                           f"landed {landed:>11,}  in flight {pub.stats.acked - poller.latest:>9,}  "
                           f"({landed / max(elapsed, 1e-9):,.0f} rows/s)")
            t_published = time.monotonic()
            pub.flush(60)
            acked = pub.stats.acked
            _spill_ids(pub, ids_out)
        poller.interval = 0.2
        report(f"  published {acked - base_acked:,} events in {t_published - t_start:.1f}s; draining ...")
        t_drained = poller.wait_for(acked, drain_timeout)
        t_end = t_drained or time.monotonic()
        cpu1 = monitor.cpu_seconds()
        poller.stop()
        landed_total = live.landed()
        rows = landed_total - base
        total_s = t_end - t_start
        if t_drained is None:
            report(f"  warning: only {landed_total:,} of {acked:,} records landed within {drain_timeout:.0f}s")
        report("  counting missing and duplicate rows ...")
        missing = summary.missing(live.sql, live.cluster, ids_path)
        duplicates = summary.duplicates(live.sql, live.cluster)
        per_table = summary.rows_per_table(live.sql, live.cluster)
        # Sustained landing rate while publishing (after the first 10 s), from the poller's samples.
        steady = [(t, n) for t, n in poller.samples if 10.0 <= t <= t_published - t_start]
        steady_slope = slope_per_min(steady)
        eps = rows / total_s if total_s > 0 else None
        result = {
            "e2e_events_per_s": round(eps, 1) if eps and t_drained is not None else None,
            "e2e_rows": rows, "e2e_acked": acked - base_acked,
            "e2e_seconds": round(total_s, 3), "e2e_publish_seconds": round(t_published - t_start, 3),
            "e2e_drain_seconds": round(t_end - t_published, 3),
            "e2e_drained": t_drained is not None,
            "e2e_publish_events_per_s": round((acked - base_acked) / (t_published - t_start), 1),
            "e2e_steady_landing_events_per_s": round(steady_slope / 60.0, 1) if steady_slope else None,
            "e2e_publisher_throttled_s": round(throttled_s, 2),
            "e2e_missing": missing, "e2e_duplicates": duplicates,
            "e2e_dead_letter_inputs": pub.stats.poison,
            "e2e_events_per_record": source.events_per_record,
            "e2e_rows_per_table": per_table,
            "e2e_cores_used": cores_used(cpu0, cpu1, total_s),
            "e2e_restarts": {c.name: c.restarts for c in live.stack.children},
            "e2e_stack_startup_s": round(live.startup_s, 2),
            "e2e_timeline": [(t, n - base) for t, n in poller.samples],
            "e2e_query_errors": poller.errors,
        }
        report(f"  e2e: {rows:,} rows in {total_s:.1f}s = {eps or 0:,.0f} events/s; "
               f"missing {missing}, duplicates {duplicates}")
        return result
    finally:
        if poller is not None:
            poller.stop()
        if profiler is not None:
            profiler.stop()
        pub.close()
        live.close()
