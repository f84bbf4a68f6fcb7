"""soak (`make soak`): the whole pipeline at a fraction (50 %) of the maximum sustained
rate for five minutes, sampling the RSS of every process every 5 s. Memory is flat
when the least-squares slope of a process's RSS over the last four minutes is below
1 MB/min (the in-memory broker grows with the data it holds: reported, not judged)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from benchmarks.phases.common import RssMonitor, Throttle, make_publisher
from benchmarks.phases.live import LandedPoller, LiveStack
from benchmarks.phases.stats import FLAT_MB_PER_MIN, memory_flat
from collectors.publisher import run_at_rate
from collectors.synthetic import SyntheticSource


def run(work_dir: Path, rate: float, seconds: float, report, interval: float = 5.0,
        last_s: float = 240.0, drain_timeout: float = 120.0) -> dict:
    monitor = RssMonitor(interval=interval, keep_series=True).start()
    live = LiveStack(work_dir, "soak", report, monitor)
    report(f"soak: starting the embedded stack in {work_dir}")
    live.start()
    pub = make_publisher(live.kafka)
    source = SyntheticSource(seed=41)
    stop = threading.Event()
    lag_series: list[tuple[float, int]] = []
    try:
        base = live.warm_up(pub, source)
        base_acked = pub.stats.acked
        report(f"  publishing {rate:,.0f} events/s for {seconds:.0f}s; RSS sampled every {interval:.0f}s")
        t_start = time.monotonic()
        load_from = t_start - monitor.t0
        poller = LandedPoller(live, 1.0).start(t_start)
        loader = threading.Thread(target=run_at_rate, args=(source.batch, pub, rate, seconds),
                                  kwargs={"stop": stop}, name="soak-load", daemon=True)
        loader.start()
        tick = Throttle(15.0)
        while loader.is_alive():
            time.sleep(1.0)
            elapsed = time.monotonic() - t_start
            lag = pub.stats.acked - poller.latest
            lag_series.append((round(time.monotonic() - monitor.t0, 1), lag))
            if tick():
                rss = {k: round(v[-1][1]) for k, v in monitor.series.items() if v}
                report(f"  soak {elapsed:5.0f}s  acked {pub.stats.acked - base_acked:>11,}  "
                       f"landed {poller.latest - base:>11,}  in flight {lag:>9,}  RSS MB {rss}")
        load_to = time.monotonic() - monitor.t0
        pub.flush(60)
        drained = poller.wait_for(pub.stats.acked, drain_timeout)
        poller.stop()
        landed = live.landed() - base
    finally:
        stop.set()
        monitor.stop()
        pub.close()
        live.close()
    # Judge the load period only (not the start-up before it or the drain after it).
    under_load = {k: [(t, mb) for t, mb in v if load_from <= t <= load_to] for k, v in monitor.series.items()}
    verdict = memory_flat(under_load, last_s)
    judged = [v["flat"] for v in verdict.values() if v["flat"] is not None]
    flat = bool(judged) and all(judged)
    report(f"  soak: memory flat: {flat}; slopes (MB/min over the last {last_s:.0f}s): "
           + ", ".join(f"{k} {v['slope_mb_per_min']}" for k, v in verdict.items()))
    return {
        "seconds": seconds, "rate_target": round(rate, 1),
        "acked": pub.stats.acked - base_acked, "landed": landed, "drained": drained is not None,
        "publish_events_per_s": round((pub.stats.acked - base_acked) / seconds, 1),
        "memory_flat": flat, "flat_limit_mb_per_min": FLAT_MB_PER_MIN, "slope_window_s": last_s,
        "load_window_s": [round(load_from, 1), round(load_to, 1)],
        "processes": verdict,
        "peak_rss_mb": {k: round(v, 1) for k, v in monitor.peak_mb.items()},
        "rss_series_mb": {k: [(round(t, 1), round(mb, 1)) for t, mb in v] for k, v in monitor.series.items()},
        "in_flight_series": lag_series,
        "restarts": {c.name: c.restarts for c in live.stack.children},
    }
