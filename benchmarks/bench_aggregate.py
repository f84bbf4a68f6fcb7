"""Per-event cost of windowed aggregation (streams.aggregate) on one core, in memory.

The mix mirrors the raw topics: 60 % logs (15 % of them payment logs), 30 % metric
samples (gauges, counters, histogram buckets), 10 % security events, event time
advancing about 5,000 events per second with a little disorder. Events are built
before timing; the timed part is exactly what an ingest worker adds per batch:
`add_batch` on 5,000 events, then `close_ready` (and the final `flush_all`, which
emits the windows still open: the same work a longer run spends closing them).

Absolute figures depend heavily on the machine, so the run also times an
orjson decode + encode of the same events (the floor of any ingest worker's
per-event work) and reports the ratio.
"""

from __future__ import annotations

import gc
import random
import time

import orjson

from streams.aggregate.windows import WindowAggregator

BATCH = 5000
# Cardinality stays under the default series guard (1000 per metric name / group), as in a healthy fleet.
SERVICES = [(f"svc-{i}", ("acme", "globex", "initech")[i % 3]) for i in range(20)]
SEVERITIES = [(9, "INFO")] * 14 + [(5, "DEBUG")] * 3 + [(13, "WARN")] * 2 + [(17, "ERROR")]
ROUTES = [f"/v1/r{i}" for i in range(10)]
RATE = 10_000  # events per second of event time
LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def make_events(n: int, start: float, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    events = []
    counters: dict[tuple, float] = {}
    for i in range(n):
        ts = start + i / RATE + rnd.uniform(-2.0, 0.5)
        service, tenant = rnd.choice(SERVICES)
        common = {"event_id": f"e{i}", "ts": ts, "observed_ts": ts + 0.2, "tenant": tenant,
                  "service": service, "env": "prod", "host": f"host-{rnd.randrange(50)}"}
        r = rnd.random()
        if r < 0.6:
            number, text = rnd.choice(SEVERITIES)
            attrs = {"http.method": "POST", "route": rnd.choice(ROUTES)}
            if rnd.random() < 0.15:
                attrs.update({"payment.provider": rnd.choice(["adyen", "stripe", "worldpay"]),
                              "merchant": f"m-{rnd.randrange(50)}", "currency": rnd.choice(["EUR", "USD"]),
                              "amount": f"{rnd.lognormvariate(3, 1):.2f}",
                              "status": "declined" if rnd.random() < 0.05 else "captured"})
            events.append({**common, "kind": "log", "severity_number": number, "severity_text": text,
                           "message": "request handled", "trace_id": "", "span_id": "", "attributes": attrs})
        elif r < 0.9:
            m = rnd.random()
            labels = {"route": rnd.choice(ROUTES), "status": rnd.choice(["200", "400", "500"])}
            if m < 0.4:
                name, mtype, value = "http_request_duration_seconds", "gauge", rnd.lognormvariate(-3, 1)
            elif m < 0.8:
                name, mtype = "http_requests_total", "counter"
                key = (common["service"], labels["route"], labels["status"])
                value = counters[key] = counters.get(key, 0.0) + rnd.randrange(1, 20)
            else:
                name, mtype = "rpc_latency_seconds_bucket", "histogram"
                labels = {"route": rnd.choice(ROUTES[:4]), "le": rnd.choice(LE)}
                key = (common["service"], labels["route"], labels["le"])
                value = counters[key] = counters.get(key, 0.0) + rnd.randrange(0, 5)
            events.append({**common, "kind": "metric", "name": name, "type": mtype, "value": value,
                           "unit": "", "labels": labels, "attributes": {}})
        else:
            events.append({**common, "kind": "security", "category": "authentication", "action": "login",
                           "outcome": "failure" if rnd.random() < 0.1 else "success",
                           "actor": f"user-{rnd.randrange(300)}", "target": "",
                           "source_ip": f"10.0.{rnd.randrange(2)}.{rnd.randrange(150)}",
                           "severity_number": 9, "severity_text": "INFO", "message": "", "attributes": {}})
    return events


def json_roundtrip_us(events: list[dict]) -> float:
    """Best of three: orjson.loads + orjson.dumps per event, µs."""
    wire = [orjson.dumps(e) for e in events]
    loads, dumps = orjson.loads, orjson.dumps
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for raw in wire:
            dumps(loads(raw))
        best = min(best, time.perf_counter() - t0)
    return best / len(events) * 1e6


def run(n_events: int = 200_000) -> dict:
    start = 1_700_000_000.0
    events = make_events(n_events, start)
    # A worker holds one batch at a time; keep the pre-built input out of the collector's scans.
    gc.collect()
    gc.freeze()
    clock = [start]
    agg = WindowAggregator(clock=lambda: clock[0])
    partials = 0
    elapsed = 0.0
    perf = time.perf_counter
    for i in range(0, n_events, BATCH):
        batch = events[i:i + BATCH]
        clock[0] = start + (i + BATCH) / RATE + 1.0
        t0 = perf()
        agg.add_batch(batch, partition=0)
        partials += len(agg.close_ready())
        elapsed += perf() - t0
    t0 = perf()
    partials += len(agg.flush_all())
    elapsed += perf() - t0
    gc.unfreeze()
    per_event = elapsed / n_events * 1e6
    reference = json_roundtrip_us(events[:50_000])
    return {
        "events": n_events,
        "aggregate_us_per_event": round(per_event, 3),
        "events_per_s": round(n_events / elapsed),
        "json_roundtrip_us_per_event": round(reference, 3),
        "aggregate_to_json_roundtrip": round(per_event / reference, 3),
        "partials": partials,
        "rejected": dict(agg.rejected),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
