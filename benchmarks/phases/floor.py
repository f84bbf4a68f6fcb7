"""floor: a bare confluent-kafka consumer with `orjson.loads` over the pre-filled raw
topics, in the harness process: the least any Python consumer of these records does.
Timed from the end of the first batch (after the group join) to the last record;
CPU time of the harness process over the same span gives the cores it used."""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Consumer

from sinks.kafka import KafkaConfig


def run(kafka: KafkaConfig, n: int, report, timeout: float = 120.0) -> dict:
    consumer = Consumer(kafka.consumer_conf(f"{kafka.topic_prefix}-floor"))
    consumer.subscribe(kafka.topics.raw_all)
    loads = orjson.loads
    bad = (orjson.JSONDecodeError, TypeError)
    count = 0
    t0 = c0 = cpu0 = None
    deadline = time.monotonic() + timeout
    try:
        while count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"floor consumer read {count:,} of {n:,} records within {timeout:.0f}s")
            msgs = consumer.consume(10_000, 0.5)
            for m in msgs:
                if m.error() is not None:
                    continue
                try:
                    loads(m.value())
                except bad:
                    pass
            count += len(msgs)
            if t0 is None and msgs:
                t0, c0, cpu0 = time.perf_counter(), count, time.process_time()
        t1, cpu1 = time.perf_counter(), time.process_time()
    finally:
        consumer.close()
    seconds = t1 - t0
    eps = (count - c0) / seconds if seconds > 0 else None
    cores = (cpu1 - cpu0) / seconds if seconds > 0 else None
    report(f"  floor: {eps or 0:,.0f} events/s on {cores or 0:.2f} cores")
    return {"floor_events_per_s": round(eps, 1) if eps else None,
            "floor_cores_used": round(cores, 3) if cores else None,
            "floor_events_per_s_per_core": round(eps / cores, 1) if eps and cores else None,
            "floor_records": count, "floor_seconds": round(seconds, 3)}
