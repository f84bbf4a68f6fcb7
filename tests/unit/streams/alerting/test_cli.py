"""`sluice silence ...` and `sluice alerts ...` against the real embedded broker and chDB."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer

from sinks.clickhouse import ClickHouseConfig, ClickHouseSink
from sinks.kafka import KafkaConfig
from sinks.kafka_tail import assign_tail, read_until_end, reader
from sluice.commands.alerts import alerts, silence
from tests.unit.streams.alerting.conftest import T0, Harness, candidate, simple_config

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka_env(embedded_broker, topic_prefix, tmp_path) -> dict:
    return {"SLUICE_KAFKA__BOOTSTRAP_SERVERS": embedded_broker.bootstrap_servers,
            "SLUICE_KAFKA__TOPIC_PREFIX": topic_prefix, "SLUICE_DATA_DIR": str(tmp_path)}


def run(group, args: list[str], env: dict) -> str:
    result = CliRunner().invoke(group, args, env=env, obj={"config": None}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_silence_add_list_expire_round_trip(kafka_env, embedded_broker, topic_prefix):
    added = run(silence, ["add", "-m", "team=payments-oncall", "-m", 'provider=~"ady.*"', "--duration", "2h",
                          "--reason", "INC-7 provider maintenance", "--by", "alice"], kafka_env)
    silence_id = added.splitlines()[0]
    listed = run(silence, ["list", "--json"], kafka_env)
    [shown] = [orjson.loads(line) for line in listed.splitlines()]
    assert (shown["id"], shown["status"], shown["created_by"]) == (silence_id, "active", "alice")
    assert shown["matchers"] == ["team=payments-oncall", 'provider=~"ady.*"']
    run(silence, ["expire", silence_id, "--by", "bob"], kafka_env)
    assert run(silence, ["list", "--json"], kafka_env).strip() == ""
    [ended] = [orjson.loads(line) for line in run(silence, ["list", "--all", "--json"], kafka_env).splitlines()]
    assert (ended["state"], ended["created_by"]) == ("expired", "bob")
    kafka = KafkaConfig(bootstrap_servers=embedded_broker.bootstrap_servers, topic_prefix=topic_prefix)
    consumer = reader(kafka)
    try:
        rows = [orjson.loads(m.value()) for m in
                read_until_end(consumer, assign_tail(consumer, [kafka.topics.alert_history], None))]
    finally:
        consumer.close()
    assert [(r["change"], r["actor"], r["silence_id"]) for r in rows] == [
        ("silence_added", "alice", silence_id), ("silence_expired", "bob", silence_id)]


def test_silence_add_rejects_a_silence_that_mutes_everything(kafka_env):
    result = CliRunner().invoke(silence, ["add", "-m", "team=~.*", "--reason", "oops"], env=kafka_env,
                                obj={"config": None})
    assert result.exit_code == 2 and "would mute every alert" in result.output


def test_alerts_tail_prints_the_notifications(kafka_env, embedded_broker, topic_prefix):
    h = Harness(simple_config(route={"group_wait": "0s", "group_by": ["provider"]}))
    notes = h.send(candidate()) + h.send(candidate(group={"series.provider": "stripe"}))
    assert len(notes) == 2
    producer = Producer({"bootstrap.servers": embedded_broker.bootstrap_servers})
    for note in notes:
        producer.produce(f"{topic_prefix}.alerts", note.value, note.key, headers=note.headers)
    assert producer.flush(30) == 0
    as_json = run(alerts, ["tail", "--json"], kafka_env)
    assert sorted(as_json.splitlines()) == sorted(n.value.decode() for n in notes)
    pretty = run(alerts, ["tail"], kafka_env)
    assert pretty.count("FIRING") == 2 and "provider=stripe" in pretty


def test_alerts_list_shows_the_latest_state_per_alert(tmp_path):
    h = Harness(simple_config(route={"group_wait": "0s", "group_interval": "0s"}))
    h.send(candidate())
    h.send(candidate(status="resolved", at=T0 + 60, starts_at=T0))
    h.send(candidate(group={"series.provider": "stripe"}, at=T0 + 90))
    rows = h.manager.drain_history()
    sink = ClickHouseSink(ClickHouseConfig(data_dir=tmp_path / "clickhouse")).start()
    try:
        sink.write("alert_history", {"raw": [orjson.dumps(r).decode() for r in rows], "_cluster": ["c"] * len(rows),
                                     "_topic": ["h"] * len(rows), "_partition": [0] * len(rows),
                                     "_offset": list(range(len(rows)))}, "tok")
    finally:
        sink.close()
    env = {"SLUICE_DATA_DIR": str(tmp_path)}
    out = run(alerts, ["list", "--format", "JSONEachRow"], env)
    got = {(r["rule_id"], r["status"], r["last_change"]) for r in map(orjson.loads, out.splitlines())}
    assert got == {("payments.provider_failure_ratio", "resolved", "notified"),
                   ("payments.provider_failure_ratio", "firing", "notified")}
    firing = [orjson.loads(line) for line in run(alerts, ["list", "--status", "firing", "--format", "JSONEachRow"],
                                                  env).splitlines()]
    assert len(firing) == 1 and "stripe" in firing[0]["summary"]
