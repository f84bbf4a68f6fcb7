"""`sluice rules backtest` over events that went through the real pipeline lists exactly
the events the in-stream evaluator matches."""

from __future__ import annotations

import time

import orjson
import pytest
from click.testing import CliRunner

from schemas.topics import Topics
from sluice.cli import main
from streams.detect import load_rules
from streams.detect.loader import default_rules_path
from streams.ingest.pipeline import Ingestor
from tests.integration.harness import Pipeline, produce

pytestmark = pytest.mark.integration


def _sudo(i: int, command: str, actor: str = "bob", env: str = "prod") -> dict:
    return {"event_id": f"00000000-0000-7000-a000-{i:012d}", "ts": time.time() - 60 + i, "category": "privilege",
            "action": "sudo", "outcome": "success", "user": actor, "target": "root", "host": f"ledger-{i % 2}",
            "env": env, "service": "ledger", "command": command}


def test_backtest_lists_the_events_the_stream_evaluator_matches(tmp_path, embedded_broker, topic_prefix,
                                                                monkeypatch):
    from tests.integration.stacks import make_stack

    stack = make_stack("embedded", embedded_broker, None, tmp_path, topic_prefix)
    events = [_sudo(0, "/bin/bash"), _sudo(1, "/usr/bin/systemctl status ledger"), _sudo(2, "su -"),
              _sudo(3, "/bin/bash", actor="svc-deploy"), _sudo(4, "/bin/zsh", env="staging"), _sudo(5, "-i")]
    values = [orjson.dumps(e) for e in events]
    pipeline = Pipeline(stack)
    try:
        produce(stack, "security", values)
        pipeline.pump_ingest(len(events))
        pipeline.pump_store("security_events", len(events))
    finally:
        pipeline.close()  # one process may hold the chDB directory: the CLI opens it next

    rule = next(r for r in load_rules(default_rules_path()) if r.id == "security.sudo_root_shell")
    canonical = Ingestor(Topics(topic_prefix)).process(
        [(v, Topics(topic_prefix).raw("security"), 0, i) for i, v in enumerate(values)], time.time(),
        keep_events=True).events
    in_stream = {e["event_id"] for e in canonical if rule.accepts(e)}
    assert in_stream == {events[i]["event_id"] for i in (0, 2, 5)}

    monkeypatch.setenv("SLUICE_CLICKHOUSE__DATABASE", stack.clickhouse.database)
    monkeypatch.setenv("SLUICE_CLICKHOUSE__DATA_DIR", str(stack.clickhouse.data_dir))
    result = CliRunner().invoke(main, ["rules", "backtest", "security.sudo_root_shell", "--since", "1d",
                                       "--format", "JSONEachRow", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    backtested = {orjson.loads(line)["event_id"] for line in result.output.splitlines() if line.startswith("{")}
    assert backtested == in_stream


def _payment(i: int, ts: float, provider: str, failed: bool) -> dict:
    return {"event_id": f"00000000-0000-7000-b000-{i:012d}", "ts": ts, "level": "info", "service": "checkout",
            "msg": "payment", "provider": provider, "merchant": "m1", "currency": "EUR", "amount": "10.0",
            "status": "failed" if failed else "ok"}


def test_ratio_backtest_over_stored_rollups_matches_the_stream(tmp_path, embedded_broker, topic_prefix, monkeypatch):
    """Payment logs go through ingest (windowed partials to sluice.rollups) and the store
    (rollup_counts_1m); the detect stage's view is the merged 60 s partials read back from
    the rollups topic, run through the engine; the backtest reads ClickHouse."""
    from sinks.kafka_tail import assign_tail, read_until_end, reader
    from streams.aggregate import merge_partials
    from tests.integration.stacks import make_stack
    from tests.unit.streams.detect.backtest_harness import assert_agree, in_stream

    stack = make_stack("embedded", embedded_broker, None, tmp_path, topic_prefix)
    t0 = (time.time() // 60) * 60 - 40 * 60
    events, i = [], 0
    for minute in range(20):
        for k in range(60):
            for provider, failing in (("adyen", 3 <= minute < 10 and k % 8 == 0), ("stripe", k == 0)):
                events.append(_payment(i, t0 + 60 * minute + k, provider, failing))
                i += 1
    events.append({**_payment(i, t0 + 26 * 60, "none", False), "provider": ""})  # moves the watermark on
    values = [orjson.dumps(e) for e in events]
    pipeline = Pipeline(stack)
    try:
        produce(stack, "logs", values)
        pipeline.pump_ingest(len(events))
        sql = (f"SELECT count() AS n FROM (SELECT DISTINCT ts, dims FROM {pipeline.db}.rollup_counts_1m "
               "WHERE family = 'payment')")
        deadline = time.monotonic() + 60
        while int(pipeline.rows(sql)[0]["n"]) < 40:
            assert time.monotonic() < deadline, pipeline.rows(sql)
            pipeline.store.step()
    finally:
        pipeline.close()

    consumer = reader(stack.kafka)
    try:
        ends = assign_tail(consumer, [stack.kafka.topics.rollups], None)
        partials = [orjson.loads(m.value()) for m in read_until_end(consumer, ends)]
    finally:
        consumer.close()
    seen = [p for p in merge_partials(partials) if p["window_s"] == 60 and p["family"] == "payment"]
    assert len(seen) == 40

    rule = next(r for r in load_rules(default_rules_path()) if r.id == "payments.provider_failure_ratio")
    want = in_stream(rule, seen)
    assert [(w["group"], w["resolved_by"]) for w in want] == [({"series.provider": "adyen"}, "condition")]

    monkeypatch.setenv("SLUICE_CLICKHOUSE__DATABASE", stack.clickhouse.database)
    monkeypatch.setenv("SLUICE_CLICKHOUSE__DATA_DIR", str(stack.clickhouse.data_dir))
    result = CliRunner().invoke(main, ["rules", "backtest", rule.id, "--since", "1d", "--format", "JSONEachRow",
                                       "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    from tests.unit.streams.detect.backtest_harness import epoch

    got = []
    for line in result.output.splitlines():
        if line.startswith("{"):
            row = orjson.loads(line)
            got.append({"group": {"series.provider": row["series.provider"]}, "started": epoch(row["started"]),
                        "fired": epoch(row["fired"]), "resolved": epoch(row["resolved"]),
                        "resolved_by": row["resolved_by"], "value": row["value"]})
    assert_agree(got, want, "provider_failure_ratio through the pipeline")

    text = CliRunner().invoke(main, ["rules", "backtest", rule.id, "--since", "1d", "--data-dir", str(tmp_path)])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("series.provider=adyen  started ") and " resolved " in lines[0]
    assert lines[1] == f"{rule.id}: 1 firing interval(s) in the last 1d"
