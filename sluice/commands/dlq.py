"""`sluice dlq`: look at dead letters grouped by reason, and re-feed them after a fix."""

from __future__ import annotations

import getpass
import time

import click
import orjson

from schemas.errors import SinkError
from sinks.kafka import make_producer
from sluice.commands.common import cli_settings, data_dir_option, with_running_kafka
from sluice.sqlclient import SqlClient


@click.group()
def dlq() -> None:
    """Dead letters: records that could not become events, with their reason."""


def _where(reason: str | None, since_h: float | None) -> str:
    parts = []
    if reason:
        parts.append(f"reason = '{reason.replace(chr(39), '')}'")
    if since_h:
        parts.append(f"ts > now() - INTERVAL {int(since_h * 3600)} SECOND")
    return ("WHERE " + " AND ".join(parts)) if parts else ""


@dlq.command()
@click.option("--reason", default=None, help="Only this reason code; shows the records themselves.")
@click.option("--since-hours", type=float, default=None, help="Only dead letters first seen in the last N hours.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@data_dir_option
@click.pass_context
def inspect(ctx, reason, since_hours, limit, data_dir):
    """Dead letters grouped by reason (with --reason: the records, newest first)."""
    settings = cli_settings(ctx, data_dir=data_dir)
    sql = SqlClient(settings)
    db = settings.clickhouse.database
    where = _where(reason, since_hours)
    try:
        if reason is None:
            q = (f"SELECT reason, count() AS records, min(ts) AS first_seen, max(ts) AS last_seen, "
                 f"any(source_topic) AS example_topic, any(detail) AS example_detail "
                 f"FROM {db}.dead_letters {where} GROUP BY reason ORDER BY records DESC")
        else:
            q = (f"SELECT ts, source_topic, source_partition, source_offset, detail, "
                 f"substring(payload, 1, 120) AS payload FROM {db}.dead_letters {where} "
                 f"ORDER BY ts DESC LIMIT {limit}")
        click.echo(sql.query(q, "PrettyCompact").decode(), nl=False)
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        sql.close()


@dlq.command()
@click.option("--reason", default=None, help="Only dead letters with this reason code.")
@click.option("--since-hours", type=float, default=None, help="Only dead letters first seen in the last N hours.")
@click.option("--limit", type=click.IntRange(min=1), default=100000, show_default=True)
@click.option("--by", "actor", default=None, help="Who replays (recorded); default: the OS user.")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed, replay nothing.")
@data_dir_option
@click.pass_context
def replay(ctx, reason, since_hours, limit, actor, dry_run, data_dir):
    """Re-feed dead letters to their raw topic (after fixing a decoder or a producer).
    Each dead letter is replayed once: replays are recorded in `dlq_replays` and skipped
    afterwards. A record that fails again becomes a new dead letter."""
    settings = with_running_kafka(cli_settings(ctx, data_dir=data_dir))
    topics = settings.kafka.topics
    db = settings.clickhouse.database
    sql = SqlClient(settings)
    where = _where(reason, since_hours)
    cond = "AND" if where else "WHERE"
    try:
        rows = sql.rows(
            f"SELECT toString(event_id) AS id, reason, kind, payload FROM {db}.dead_letters {where} "
            f"{cond} event_id NOT IN (SELECT dead_letter_id FROM {db}.dlq_replays) "
            f"AND reason != 'sink_rejected' ORDER BY ts LIMIT {limit}")
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        sql.close()
    if dry_run or not rows:
        click.echo(f"{len(rows)} dead letter(s) {'would be' if dry_run else 'to be'} replayed")
        return
    producer = make_producer(settings.kafka)
    actor = actor or getpass.getuser()
    now = time.time()
    for r in rows:
        target = topics.entry(r["kind"])
        producer.produce(target, r["payload"].encode())
        audit = {"dead_letter_id": r["id"], "ts": now, "reason": r["reason"], "to_topic": target,
                 "replayed_by": actor}
        producer.produce(topics.dlq_replays, orjson.dumps(audit), r["id"].encode())
        producer.poll(0)
    left = producer.flush(60)
    if left:
        raise click.ClickException(f"{left} record(s) were not acknowledged by Kafka; run the replay again")
    click.echo(f"replayed {len(rows)} dead letter(s) to their raw topics (recorded in {db}.dlq_replays)")
