"""`sluice silence add|list|expire` and `sluice alerts list|tail`.

Silences are records of the compacted `{prefix}.silences` topic, which every alert
manager replica reads; each change also goes to `{prefix}.alert-history` so the
audit table says who silenced what and why.
"""

from __future__ import annotations

import getpass
import sys
import time
from datetime import UTC, datetime

import click
import orjson
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import ValidationError

from schemas.alerts import sql_string
from schemas.errors import SinkError
from sinks.kafka import KafkaConfig, make_producer
from sinks.kafka_tail import assign_tail, read_until_end, reader
from sluice.commands.common import cli_settings, data_dir_option, with_running_kafka
from streams.alerting.records import encode_history, silence_history_row
from streams.alerting.silences import Silence, SilenceStore, encode_silence, expire_silence, new_silence
from streams.detect.durations import format_duration, parse_duration

SQL_FORMATS = ("PrettyCompact", "Pretty", "JSONEachRow", "CSVWithNames", "TSVWithNames", "Vertical", "Markdown")


# -- silences ------------------------------------------------------------------------
@click.group("silence")
def silence() -> None:
    """Mute alert notifications that match labels, for a while."""


@silence.command("add")
@click.option("--match", "-m", "matchers", multiple=True, required=True,
              help="Label matcher, repeatable (all must match): team=payments, provider!=adyen, "
                   "rule_id=~'sre\\..*'.")
@click.option("--duration", default="2h", show_default=True, help="How long: 30m, 2h, 1d.")
@click.option("--reason", required=True, help="Why (ticket, incident, maintenance): stored as the comment.")
@click.option("--by", "created_by", default=None, help="Who is silencing (default: the current user).")
@data_dir_option
@click.pass_context
def silence_add(ctx, matchers, duration, reason, created_by, data_dir):
    """Create a silence; prints its id."""
    try:
        seconds = parse_duration(duration)
        new = new_silence(list(matchers), seconds, created_by or getpass.getuser(), reason, time.time())
    except ValidationError as exc:
        raise click.UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    except ValueError as exc:
        raise click.UsageError(f"--duration: {exc}") from None
    kafka = _kafka(ctx, data_dir)
    _publish(kafka, new, "silence_added")
    click.echo(new.id)
    click.echo(f"silenced {', '.join(new.matchers)} until {_time(new.ends_at)} ({format_duration(seconds)})", err=True)


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@data_dir_option
@click.pass_context
def silence_list(ctx, show_all, as_json, data_dir):
    """Active and pending silences (read from the silences topic)."""
    store = _load_store(_kafka(ctx, data_dir))
    now = time.time()
    shown = [s for s in store.all() if show_all or s.status(now) != "expired"]
    for s in shown:
        if as_json:
            click.echo(orjson.dumps({**s.model_dump(), "status": s.status(now)}).decode())
        else:
            left = f"{format_duration(s.ends_at - now)} left" if s.status(now) != "expired" else "ended"
            click.echo(f"{s.id}  {s.status(now):8} {_time(s.starts_at)} .. {_time(s.ends_at)} ({left})  "
                       f"by {s.created_by}\n    {' '.join(s.matchers)}\n    {s.comment}")
    if not as_json:
        click.echo(f"{len(shown)} silence(s)", err=True)


@silence.command("expire")
@click.argument("silence_id")
@click.option("--by", "created_by", default=None, help="Who ends it (default: the current user).")
@data_dir_option
@click.pass_context
def silence_expire(ctx, silence_id, created_by, data_dir):
    """End a silence now."""
    kafka = _kafka(ctx, data_dir)
    current = _load_store(kafka).get(silence_id)
    if current is None:
        raise click.ClickException(f"no silence {silence_id!r} (see `sluice silence list --all`)")
    if current.status(time.time()) == "expired":
        raise click.ClickException(f"silence {silence_id} has already ended")
    _publish(kafka, expire_silence(current, time.time(), by=created_by or getpass.getuser()), "silence_expired")
    click.echo(f"expired {silence_id}")


def _kafka(ctx: click.Context, data_dir) -> KafkaConfig:
    return with_running_kafka(cli_settings(ctx, data_dir=data_dir)).kafka


def _load_store(kafka: KafkaConfig) -> SilenceStore:
    store = SilenceStore()
    consumer = reader(kafka)
    try:
        for msg in read_until_end(consumer, assign_tail(consumer, [kafka.topics.silences], None)):
            store.apply(msg.key(), msg.value())
    finally:
        consumer.close()
    return store


def _publish(kafka: KafkaConfig, silence_: Silence, change: str) -> None:
    _ensure_compacted(kafka, kafka.topics.silences)
    producer = make_producer(kafka)
    key, value = encode_silence(silence_)
    producer.produce(kafka.topics.silences, value, key)
    row_key, row = encode_history(silence_history_row(silence_, change, silence_.ts, actor=silence_.created_by))
    producer.produce(kafka.topics.alert_history, row, row_key)
    if producer.flush(30) > 0:
        raise click.ClickException(f"Kafka at {kafka.bootstrap_servers} did not acknowledge the silence")


def _ensure_compacted(kafka: KafkaConfig, topic: str) -> None:
    """The silences topic keeps the latest record per silence forever: compacted, not deleted by age."""
    admin = AdminClient(kafka.common())
    if topic in admin.list_topics(timeout=10).topics:
        return
    new = NewTopic(topic, kafka.partitions, kafka.replication_factor, config={"cleanup.policy": "compact"})
    try:
        admin.create_topics([new])[topic].result(timeout=30)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise click.ClickException(f"cannot create {topic}: {exc}") from None


# -- alerts ------------------------------------------------------------------------
@click.group("alerts")
def alerts() -> None:
    """Look at alerts: their current state (ClickHouse) and the notification topics (Kafka)."""


def latest_state_sql(database: str, status: str | None, rule: str | None, limit: int) -> str:
    """Latest state per alert from the audit table; ties at one ts go to the later Kafka offset
    (history is keyed by fingerprint, so one alert's rows share a partition and are in order)."""
    having = [f"status = '{status}'"] if status else []
    where = ["fingerprint != ''"] + ([f"rule_id = {sql_string(rule)}"] if rule else [])
    return (
        "SELECT fingerprint, argMax(status, (ts, _offset)) AS status, any(rule_id) AS rule_id, "
        "argMax(severity, (ts, _offset)) AS severity, argMax(tenant, (ts, _offset)) AS tenant, "
        "argMax(starts_at, (ts, _offset)) AS starts_at, argMax(ends_at, (ts, _offset)) AS ends_at, "
        "argMax(change, (ts, _offset)) AS last_change, max(ts) AS updated, "
        "argMax(annotations['summary'], (ts, _offset)) AS summary "
        f"FROM {database}.alerts WHERE {' AND '.join(where)} GROUP BY fingerprint "
        + (f"HAVING {' AND '.join(having)} " if having else "")
        + f"ORDER BY updated DESC LIMIT {int(limit)}")


@alerts.command("list")
@click.option("--status", type=click.Choice(["firing", "resolved"]), default=None, help="Only alerts in this state.")
@click.option("--rule", default=None, help="Only this rule id.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(SQL_FORMATS, case_sensitive=False), default="PrettyCompact",
              show_default=True, help="ClickHouse output format.")
@data_dir_option
@click.pass_context
def alerts_list(ctx, status, rule, limit, fmt, data_dir):
    """Latest state of each alert (the `alerts` audit table)."""
    from sluice.sqlclient import SqlClient

    client = SqlClient(cli_settings(ctx, data_dir=data_dir))
    try:
        sys.stdout.buffer.write(client.query(latest_state_sql(client.database, status, rule, limit), fmt))
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()


@alerts.command("tail")
@click.option("--topic", "topics", multiple=True, help="Topic to read (repeatable; default: {prefix}.alerts).")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=20, show_default=True,
              help="Start this many messages before the end of each partition.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new notifications until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print the messages as JSON lines.")
@data_dir_option
@click.pass_context
def alerts_tail(ctx, topics, lines, follow, as_json, data_dir):
    """Print alert notifications from the alerts topic(s)."""
    kafka = _kafka(ctx, data_dir)
    consumer = reader(kafka)
    names = list(topics) or [kafka.topics.alerts]
    try:
        ends = assign_tail(consumer, names, lines)
        for msg in read_until_end(consumer, ends):
            _print_alert(msg.value(), as_json)
        while follow:
            for msg in consumer.consume(100, 1.0):
                if msg.error() is None:
                    _print_alert(msg.value(), as_json)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


def format_alert(value: bytes) -> str:
    """One line per notification: time, status, severity, rule, labels, summary, id."""
    try:
        msg = orjson.loads(value)
        labels = ",".join(f"{k}={v}" for k, v in sorted(msg["labels"].items())
                          if k not in ("rule_id", "severity", "team"))
        status = msg["status"].upper() + (f" (repeat {msg['repeat']})" if msg.get("repeat") else "")
        return (f"{_time(msg['sent_at'])} {status:9} {msg['severity']:8} {msg['rule_id']} [{labels}] "
                f"{msg['annotations']['summary']}  id={msg['id']}")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return f"(not an alert message) {value[:200]!r}"


def _print_alert(value: bytes | None, as_json: bool) -> None:
    if value is None:
        return
    click.echo(value.decode("utf-8", "replace") if as_json else format_alert(value))


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
