"""alert latency: an incident injected -> its firing notification on the alerts topic.

Two incident kinds, each with a rule of its own written for the run (so library
rules, their baselines and throttles do not interfere):
- per event (`bench.incident_event`, a pattern rule on security events): one
  matching event per incident; latency = alert seen on the alerts topic - the
  event's ts (its publish time);
- windowed (`bench.incident_window`, a threshold rule on log rollups): a burst of
  error logs from one service per incident; the alert can only fire once the
  rollup window closed, so latency = alert seen - first event ts, and the target
  is window + 5 s (alert_window_s = the smallest rollup window).
p99 over the incidents whose alert arrived within the timeout; incidents without
an alert are counted (alert_unfired*) and fail the target. Timing starts once the
detect stage has answered a warm-up incident: a long-running stage's start-up
(group join, table recovery, catching up) is not alert latency.

This needs the detect stage in the stack. Until `sluice.stages.run_detect` and a
`detect` section in the settings exist, the phase reports null with a reason."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer

from benchmarks.phases.common import RssMonitor, make_publisher
from benchmarks.phases.live import LiveStack
from benchmarks.phases.stats import percentile
from collectors.ids import Uuid7Generator
from collectors.publisher import run_at_rate
from collectors.synthetic import SyntheticSource
from sluice.settings import Settings

EVENT_RULE = "bench.incident_event"
WINDOW_RULE = "bench.incident_window"
ALERT_WINDOW_S = 10  # the windowed rule's rollup size: the shortest window a user would alert on
TENANT = "bench-incident"

RULES = {
    "incident_event.yaml": f"""\
id: {EVENT_RULE}
title: Benchmark incident (single event)
description: Injected by the benchmark harness; fires on each matching event.
severity: info
owner: benchmarks
kind: pattern
source: security
filter: tenant == "{TENANT}"
match:
  action: bench_incident
group_by: [host]
annotations:
  summary: "benchmark incident on {{{{ group.host }}}}"
""",
    "incident_window.yaml": f"""\
id: {WINDOW_RULE}
title: Benchmark incident (windowed)
description: Injected by the benchmark harness; error logs of a benchmark service in a rollup window.
severity: info
owner: benchmarks
kind: threshold
source: rollups
filter: family == "log" and series.tenant == "{TENANT}"
group_by: [series.service]
condition: errors > 0
annotations:
  summary: "benchmark windowed incident in {{{{ group.series.service }}}}"
""",
}


def unavailable_reason() -> str | None:
    """Why alert latency cannot be measured on this stack, or None when it can."""
    from sluice import stages

    if not hasattr(stages, "run_detect"):
        return "the stack has no detect stage yet (sluice.stages.run_detect does not exist)"
    if "detect" not in Settings.model_fields:
        return "the settings have no `detect` section"
    if _rules_key() is None:
        return "the detect settings have no rules path to point at the benchmark's rules"
    return None


def _rules_key() -> str | None:
    detect = Settings.model_fields.get("detect")
    fields = getattr(detect.annotation, "model_fields", {}) if detect is not None else {}
    return next((f"detect.{k}" for k in fields if "rule" in k), None)


def write_rules(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in RULES.items():
        (directory / name).write_text(text)
    return directory


def _null(reason: str) -> dict:
    return {"alert_latency_p99_s": None, "alert_latency_windowed_p99_s": None, "alert_window_s": None,
            "alert_latency": {"reason": reason}, "alert_latency_reason": reason}


def _alert_fields(alert: dict) -> tuple[str, str, set[str]]:
    """(rule id, status, label values) of an alert message (schemas/alerts.py)."""
    labels = alert.get("labels") or {}
    values = {str(v) for v in labels.values()} if isinstance(labels, dict) else set()
    return str(alert.get("rule_id", "")), str(alert.get("status", "")), values


def _inject_event(pub, topic: str, ids: Uuid7Generator, host: str) -> float:
    """Publish one event the single-event rule fires on; return its time."""
    ts = time.time()
    ev = {"event_id": ids.next(ts), "ts": ts, "tenant": TENANT, "service": "bench", "host": host, "env": "prod",
          "category": "privilege", "action": "bench_incident", "outcome": "success", "user": "bench",
          "msg": "benchmark incident"}
    pub.producer.produce(topic, orjson.dumps(ev), ev["event_id"].encode())
    pub.producer.poll(0)
    return ts


def _wait_detect_ready(pub, consumer: Consumer, topic: str, ids: Uuid7Generator, timeout: float) -> float:
    """Until the detect stage answers an incident: its start-up (joining the group,
    recovering tables, catching up with the warm-up records) is not alert latency.
    Returns how long that took."""
    started = time.monotonic()
    _inject_event(pub, topic, ids, "bench-warmup")
    while time.monotonic() - started < timeout:
        for m in consumer.consume(100, 0.1):
            if m.error() is not None:
                continue
            try:
                rule, status, labels = _alert_fields(orjson.loads(m.value()))
            except (orjson.JSONDecodeError, TypeError, AttributeError):
                continue
            if rule == EVENT_RULE and status == "firing" and "bench-warmup" in labels:
                return time.monotonic() - started
    raise TimeoutError(f"the detect stage did not answer a warm-up incident within {timeout:.0f}s")


def run(work_dir: Path, rate: float, report, monitor: RssMonitor, incidents: int = 20,
        every_s: float = 0.5, timeout: float = 90.0) -> dict:
    reason = unavailable_reason()
    if reason is not None:
        report(f"alert latency: not measured: {reason}")
        return _null(reason)
    rules = write_rules(work_dir / "rules")
    from streams.detect.loader import load_rules

    load_rules(rules)  # fail here, naming the file, if the rule format moved on
    # The windowed rule reads 10 s partials (ingest closes them beside the minute's):
    # latency target = that window + 5 s.
    window_s = float(ALERT_WINDOW_S)
    live = LiveStack(work_dir, "alert", report, monitor, stages=("sink", "ingest", "detect"),
                     **{_rules_key(): str(rules), "detect.rollup_window_s": ALERT_WINDOW_S,
                        "windows.window_sizes_s": [ALERT_WINDOW_S, 60]})
    report(f"alert latency: starting the embedded stack with the detect stage in {work_dir}")
    live.start()
    load_pub = make_publisher(live.kafka)
    inc_pub = make_publisher(live.kafka)
    source = SyntheticSource(seed=31)
    stop = threading.Event()
    consumer = Consumer(live.kafka.consumer_conf(f"{live.kafka.topic_prefix}-bench-alerts"))
    # Every alert topic of the prefix (routes may add sluice.alerts.<route> topics).
    consumer.subscribe([f"^{re.escape(live.kafka.topics.alerts)}.*"])
    injected_event: dict[str, float] = {}
    injected_window: dict[str, float] = {}
    fired_event: dict[str, float] = {}
    fired_window: dict[str, float] = {}
    try:
        live.warm_up(load_pub, source)
        loader = threading.Thread(target=run_at_rate, args=(source.batch, load_pub, rate, timeout),
                                  kwargs={"stop": stop}, daemon=True)
        loader.start()
        ids = Uuid7Generator()
        sec_topic, log_topic = live.kafka.topics.raw("security"), live.kafka.topics.raw("logs")
        ready_s = _wait_detect_ready(inc_pub, consumer, sec_topic, ids, timeout)
        report(f"  alert latency: the detect stage answered a warm-up incident after {ready_s:.1f}s")
        deadline = time.monotonic() + timeout
        next_at = time.monotonic()
        sent = 0
        while time.monotonic() < deadline:
            if sent < incidents and time.monotonic() >= next_at:
                host = f"bench-host-{sent}"
                injected_event[host] = ts = _inject_event(inc_pub, sec_topic, ids, host)
                service = f"bench-incident-{sent}"
                for _ in range(5):
                    e = {"event_id": ids.next(ts), "ts": ts, "tenant": TENANT, "service": service,
                         "host": "bench", "env": "prod", "level": "error", "msg": "benchmark windowed incident"}
                    inc_pub.producer.produce(log_topic, orjson.dumps(e), e["event_id"].encode())
                injected_window[service] = ts
                inc_pub.producer.poll(0)
                sent += 1
                next_at += every_s
            for m in consumer.consume(100, 0.05):
                if m.error() is not None:
                    continue
                try:
                    rule, status, labels = _alert_fields(orjson.loads(m.value()))
                except (orjson.JSONDecodeError, TypeError, AttributeError):
                    continue
                now = time.time()
                if status != "firing":
                    continue
                if rule == EVENT_RULE:
                    for host in labels & injected_event.keys():
                        fired_event.setdefault(host, now)
                elif rule == WINDOW_RULE:
                    for service in labels & injected_window.keys():
                        fired_window.setdefault(service, now)
            if sent >= incidents and len(fired_event) >= incidents and len(fired_window) >= incidents:
                break
        lat_e = [fired_event[k] - t for k, t in injected_event.items() if k in fired_event]
        lat_w = [fired_window[k] - t for k, t in injected_window.items() if k in fired_window]
        p99_e, p99_w = percentile(lat_e, 99), percentile(lat_w, 99)
        report(f"  alert latency: p99 {p99_e or 0:.3f}s ({len(lat_e)} of {sent} incidents fired), windowed p99 "
               f"{p99_w or 0:.3f}s ({len(lat_w)} of {sent} fired; window {window_s:.0f}s)")
        return {"alert_latency_p99_s": round(p99_e, 4) if p99_e is not None else None,
                "alert_latency_windowed_p99_s": round(p99_w, 4) if p99_w is not None else None,
                "alert_window_s": window_s,
                "alert_unfired": sent - len(lat_e), "alert_unfired_windowed": sent - len(lat_w),
                "alert_latency": {"incidents": sent, "fired": len(fired_event), "fired_windowed": len(fired_window),
                                  "p50_s": percentile(lat_e, 50), "windowed_p50_s": percentile(lat_w, 50)}}
    finally:
        stop.set()
        consumer.close()
        load_pub.close()
        inc_pub.close()
        live.close()
