"""Helpers every command shares: settings from the click context, the running
embedded stack, and reading a topic from the beginning to its current end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
from confluent_kafka import OFFSET_END, Consumer, Message, TopicPartition

from schemas.errors import ConfigError
from sinks.kafka import KafkaConfig
from sluice.embedded import read_stack
from sluice.settings import Settings, load_settings

data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="Data directory (default ./var, or SLUICE_DATA_DIR).")


def cli_settings(ctx: click.Context, **overrides) -> Settings:
    """Settings from the `--config` of the root command (if any), env and overrides."""
    config = (ctx.find_root().obj or {}).get("config") if ctx is not None else None
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def with_running_kafka(settings: Settings) -> Settings:
    """Point the settings at the configured Kafka, else at the running embedded stack's
    broker and topic prefix; a ClickException says how to start one when neither exists."""
    if not settings.kafka.bootstrap_servers:
        info = read_stack(settings.stack_file)
        if info is None:
            raise click.ClickException(f"no Kafka configured and no running stack found in {settings.data_dir} "
                                       "(start one with `sluice run`, or set SLUICE_KAFKA__BOOTSTRAP_SERVERS)")
        settings.kafka.bootstrap_servers = info.bootstrap_servers
        settings.kafka.topic_prefix = info.topic_prefix
    return settings


def reader(kafka: KafkaConfig, **extra) -> Consumer:
    """A consumer outside any group's commits (assign(), never subscribe())."""
    return Consumer({**kafka.common(), "group.id": f"sluice-cli-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": kafka.session_timeout_ms, **extra})


def assign_tail(consumer: Consumer, topics: list[str], last: int | None, timeout: float = 10.0) -> dict:
    """Assign every partition of `topics` at `last` records before its end (None: the
    beginning); returns {(topic, partition): end offset at assignment}. Missing topics are skipped."""
    known = consumer.list_topics(timeout=timeout).topics
    parts, ends = [], {}
    for topic in topics:
        meta = known.get(topic)
        if meta is None or meta.error is not None:
            continue
        for partition in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            start = low if last is None else max(low, high - last)
            parts.append(TopicPartition(topic, partition, start if high > low else OFFSET_END))
            ends[(topic, partition)] = high if high > start else None
    consumer.assign(parts)
    return {k: v for k, v in ends.items() if v is not None}


def read_until_end(consumer: Consumer, ends: dict, timeout: float = 30.0) -> Iterator[Message]:
    """The records up to the end offsets `assign_tail` saw, then stop."""
    remaining = dict(ends)
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            if msg.error() is None:
                yield msg
        # Positions, not message offsets: the last offset may be a transaction marker
        # (faust exactly_once), which a consumer never receives but does move past.
        positions = consumer.position([TopicPartition(t, p) for t, p in remaining])
        for tp in positions:
            if tp.offset >= remaining[(tp.topic, tp.partition)]:
                del remaining[(tp.topic, tp.partition)]
