"""`sluice demo`: the whole pipeline on the embedded stack with synthetic traffic,
then a summary measured in ClickHouse."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson

from collectors.incidents import SCENARIO_S, IncidentScript
from collectors.publisher import EVENTS_PER_RECORD, Publisher, run_at_rate
from collectors.synthetic import SyntheticSource
from schemas.errors import ConfigError
from sinks.kafka import kafka_cluster_id
from sluice import summary
from sluice.settings import Settings
from sluice.sqlclient import SqlClient
from sluice.stack import Stack
from sluice.waiting import wait_alerts, wait_drained, wait_quiet
from streams.clock import ClockConfig

ALERT_WAIT_S = 30.0
# Start-up the platform clock allows for before the timed run: the stack coming up and
# the warm-up landing, so that platform time still ends about when publishing does.
STARTUP_ALLOWANCE_S = 10.0
WARMUP_EVENTS = 2000


def demo_speed(seconds: float) -> float:
    """How much faster than the wall clock platform time must run for the incident
    script (windows, `for`, canary analysis, resolution) to play out in `seconds`."""
    return max(1.0, round(SCENARIO_S / seconds, 2))


def run_demo(settings: Settings, seconds: float, rate: float, summary_json: Path | None,
             echo: Callable[[str], None] = print, speed: float | None = None,
             events_per_record: int = EVENTS_PER_RECORD) -> dict:
    if not settings.clickhouse.embedded:
        raise ConfigError("the demo runs on the embedded stack; unset the ClickHouse URL", key="clickhouse.url")
    speed = demo_speed(seconds) if speed is None else speed
    origin = time.time()
    # Platform time ends about when publishing does: the stored run reads as the recent past.
    settings.clock = ClockConfig(speed=speed, origin=origin,
                                 start=origin - (speed - 1) * (seconds + STARTUP_ALLOWANCE_S))
    clock = settings.clock
    run_dir = settings.data_dir / "runs" / time.strftime("%Y%m%dT%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings)
    echo(f"starting the embedded stack in {settings.data_dir} ...")
    stack.start()
    try:
        sql = SqlClient(settings, stack.sql_url)
        cluster = kafka_cluster_id(settings.kafka)
        echo(f"broker {settings.kafka.bootstrap_servers}, SQL {stack.sql_url}, "
             f"{stack.ingest_workers} ingest worker(s); publishing {rate:,.0f} events/s for {seconds:.0f}s, "
             f"{events_per_record} per record")
        incidents = IncidentScript(seconds * speed)
        if speed == 1:
            echo("platform time is the wall clock (--speed 1): only incidents that resolve within the run are played")
        else:
            echo(f"platform time runs {speed:g}x the wall clock: {seconds:.0f}s cover {seconds * speed / 60:.1f} min "
                 f"of payments traffic, so the rules' real windows apply")
        for inc in incidents.incidents:
            echo(f"  incident at +{inc.at_s / 60:4.1f} min: {inc.name} -> {', '.join(inc.expected_rules)}")
        for name in incidents.skipped:
            echo(f"  skipped (needs more platform time than this run covers): {name}")
        source = SyntheticSource(events_per_record=events_per_record)
        pub = Publisher(settings.kafka, events_per_record=events_per_record)
        alone = summary.alone(sql, cluster)

        def landed() -> int:
            return summary.landed(sql, cluster, alone)

        _warm_up(landed, stack, pub, source, clock.now())
        startup_s = time.time() - origin
        warm_up_acked = pub.stats.acked
        echo(f"pipeline ready after {startup_s:.1f}s (a warm-up of {WARMUP_EVENTS:,} events landed); "
             f"the run is timed from here")
        started = time.monotonic()
        platform_start = clock.now()

        def make_batch(n: int) -> dict:
            now = clock.now()
            elapsed = now - platform_start
            batch = source.batch(n, now, incidents.alteration(elapsed))
            for stream, items in incidents.due(elapsed, now).items():
                batch.setdefault(stream, []).extend(items)
            return batch

        def tick(elapsed: float) -> None:
            stack.supervise()
            rows = landed()
            echo(f"  {elapsed:5.0f}s  produced {pub.stats.total:>10,}  acked {pub.stats.acked:>10,}  "
                 f"landed {rows:>10,}  lag {pub.stats.acked - rows:>8,}")

        run_at_rate(make_batch, pub, rate, seconds, on_tick=tick)
        produce_s = time.monotonic() - started
        pub.flush()
        if pub.stats.failed:
            echo(f"warning: the broker refused {pub.stats.failed} events: {pub.errors[:3]}")
        echo(f"published {pub.stats.total:,} events in {produce_s:.1f}s; draining ...")
        drained_at = [time.monotonic()]

        def report(rows: int) -> None:
            if time.monotonic() - drained_at[0] >= 2:
                drained_at[0] = time.monotonic()
                echo(f"  draining: landed {rows:,} of {pub.stats.acked:,}")

        wait_drained(landed, pub.stats.acked, 60.0, stack, report)
        total_s = time.monotonic() - started
        echo("stopping ingest (it emits its open windows) and storing the last rollups ...")
        stack.stop_stage("ingest")
        db = settings.clickhouse.database
        wait_quiet(lambda: int(sql.scalar(f"SELECT (SELECT count() FROM {db}.rollups_1m) + "
                                          f"(SELECT count() FROM {db}.rollup_counts_1m)") or 0), 3.0, 60.0)
        alerts = wait_alerts(settings, incidents.expected_rules, ALERT_WAIT_S, echo)
        acked_file = run_dir / "acked_ids.tsv"
        acked_file.write_bytes(b"\n".join(pub.acked_ids) + b"\n")
        result = {
            "seconds": round(total_s, 3),
            "speed": speed,
            "platform_seconds": round(clock.now() - platform_start, 1),
            "produced": dict(pub.stats.produced),
            "rows": summary.rows_per_table(sql, cluster),
            "missing": summary.missing(sql, cluster, acked_file),
            "duplicates": summary.duplicates(sql, cluster),
            "alerts": alerts,
            "e2e_events_per_s": round((pub.stats.acked - warm_up_acked) / total_s, 1),
            "startup_seconds": round(startup_s, 3),
            "publish_seconds": round(produce_s, 3),
            "dead_letter_inputs": pub.stats.poison,
            "restarts": {c.name: c.restarts for c in stack.children},
        }
        pub.close()
    finally:
        stack.close()
    _print_summary(result, echo)
    if summary_json is not None:
        summary_json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        echo(f"summary written to {summary_json}")
    return result


def _warm_up(landed: Callable[[], int], stack: Stack, pub: Publisher, source: SyntheticSource,
             now: float) -> None:
    """Publish a first small batch and wait until it landed: the groups have joined and
    the tables are ready, so the timed run measures the pipeline, not its start-up."""
    pub.publish(source.batch(WARMUP_EVENTS, now))
    pub.flush()
    wait_drained(landed, pub.stats.acked, 60.0, stack, lambda _n: None)


def _print_summary(r: dict, echo: Callable[[str], None]) -> None:
    echo("")
    echo(f"Sluice demo: {sum(r['produced'].values()):,} events in {r['seconds']:.1f}s "
         f"({r['e2e_events_per_s']:,.0f} events/s end to end, after {r['startup_seconds']:.1f}s of start-up)")
    echo("  produced: " + ", ".join(f"{k} {v:,}" for k, v in r["produced"].items()))
    echo("  rows in ClickHouse:")
    for table, n in r["rows"].items():
        echo(f"    {table:<20} {n:>12,}")
    echo(f"  missing: {r['missing']}   duplicates: {r['duplicates']}   "
         f"malformed inputs sent to dead_letters: {r['dead_letter_inputs']}")
    echo(f"  alerts: {len(r['alerts'])}")
    for a in r["alerts"]:
        echo(f"    [{a.get('severity')}] {a.get('status')} {a.get('rule_id')}: "
             f"{(a.get('annotations') or {}).get('summary', a.get('title'))}")
