"""freshness: event time to queryable in ClickHouse, at a fraction (50 %) of the
maximum sustained rate.

While the synthetic collector publishes background load at `rate` events/s, a
second producer (same settings as the collector's: linger 20 ms) publishes a
marker log event every 100 ms with a known event_id and ts = its publish time.
The harness polls ClickHouse every `poll_s` for the markers that landed; a
marker's freshness = the wall-clock time of the first poll answer that holds it
- its ts. The poll interval bounds the resolution (it adds poll_s / 2 on average)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson

from benchmarks.phases.common import RssMonitor, Throttle, make_publisher
from benchmarks.phases.live import LiveStack
from benchmarks.phases.stats import percentile
from collectors.ids import Uuid7Generator
from collectors.publisher import Publisher, run_at_rate
from collectors.synthetic import SyntheticSource

MARKER = "bench-marker"


def _markers(pub: Publisher, topic: str, every_s: float, stop: threading.Event, sent: dict[str, float]) -> None:
    ids = Uuid7Generator()
    producer = pub.producer
    while not stop.is_set():
        ts = time.time()
        eid = ids.next(ts)
        value = orjson.dumps({"event_id": eid, "ts": ts, "level": "info", "service": MARKER, "tenant": MARKER,
                              "env": "bench", "host": "bench", "msg": "freshness marker"})
        producer.produce(topic, value, eid.encode())
        sent[eid.lower()] = ts
        producer.poll(0)
        stop.wait(max(0.0, every_s - (time.time() - ts)))


def run(work_dir: Path, rate: float, seconds: float, report, monitor: RssMonitor, poll_s: float = 0.1,
        marker_every_s: float = 0.1, settle_timeout: float = 20.0) -> dict:
    live = LiveStack(work_dir, "fresh", report, monitor)
    report(f"freshness: starting the embedded stack in {work_dir}")
    live.start()
    load_pub = make_publisher(live.kafka)
    marker_pub = make_publisher(live.kafka)
    source = SyntheticSource(seed=23)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    db = live.settings.clickhouse.database
    query = (f"SELECT lower(toString(event_id)) AS id FROM {db}.logs "
             f"WHERE tenant = '{MARKER}' AND service = '{MARKER}' AND _cluster = '{live.cluster}'")
    try:
        base = live.warm_up(load_pub, source)
        base_acked = load_pub.stats.acked
        report(f"  background load {rate:,.0f} events/s for {seconds:.0f}s, a marker every "
               f"{marker_every_s * 1000:.0f} ms, ClickHouse polled every {poll_s * 1000:.0f} ms")
        load_result: dict = {}

        def load() -> None:
            load_result["seconds"] = run_at_rate(source.batch, load_pub, rate, seconds, stop=stop)

        loader = threading.Thread(target=load, name="bench-load", daemon=True)
        marker = threading.Thread(target=_markers, name="bench-markers", daemon=True,
                                  args=(marker_pub, live.kafka.topics.raw("logs"), marker_every_s, stop, sent))
        t_start = time.monotonic()
        loader.start()
        marker.start()
        tick = Throttle(3.0)
        errors = 0
        settle_deadline = None
        while True:
            if not loader.is_alive() and not stop.is_set():
                stop.set()
                marker.join(5)
                marker_pub.flush(10)
                settle_deadline = time.monotonic() + settle_timeout
            try:
                rows = live.sql.rows(query)
                now = time.time()
                for r in rows:
                    seen.setdefault(r["id"], now)
            except Exception:
                errors += 1
            if settle_deadline is not None and (len(seen) >= len(sent) or time.monotonic() > settle_deadline):
                break
            if tick():
                lat = [seen[i] - sent[i] for i in list(seen) if i in sent]
                report(f"  freshness {time.monotonic() - t_start:5.0f}s  markers {len(sent):>4} sent, "
                       f"{len(seen):>4} seen, p50 {percentile(lat, 50) or 0:.3f}s")
            time.sleep(poll_s)
        load_pub.flush(30)
        landed = live.landed() - base
        lat = sorted(seen[i] - sent[i] for i in sent if i in seen)
        unseen = sum(1 for i in sent if i not in seen)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        report(f"  freshness: p50 {p50 or 0:.3f}s, p99 {p99 or 0:.3f}s over {len(lat)} markers "
               f"({unseen} not seen within {settle_timeout:.0f}s)")
        return {
            "freshness_p50_s": round(p50, 4) if p50 is not None else None,
            "freshness_p99_s": round(p99, 4) if p99 is not None else None,
            "freshness_max_s": round(max(lat), 4) if lat else None,
            "freshness_markers": len(sent), "freshness_markers_unseen": unseen,
            "freshness_rate_target": round(rate, 1),
            "freshness_publish_events_per_s": round((load_pub.stats.acked - base_acked) / max(load_result.get("seconds", seconds),
                                                                                  1e-9), 1),
            "freshness_rows_landed": landed, "freshness_poll_s": poll_s, "freshness_query_errors": errors,
            "freshness_latencies_s": [round(x, 4) for x in lat],
        }
    finally:
        stop.set()
        load_pub.close()
        marker_pub.close()
        live.close()
