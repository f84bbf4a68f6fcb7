"""Kafka connection settings, topic creation and producers (alerts, DLQ, normalized
topics). No consumer loop lives here: that is streams/runtime.py."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import ConfigError
from schemas.topics import Topics

log = logging.getLogger(__name__)


class KafkaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str | None = Field(default=None, description="host:port list; unset = start the embedded broker")
    topic_prefix: str = Field(default="sluice", pattern=r"^[A-Za-z0-9._-]+$", description="prefix of every topic name")
    partitions: int = Field(default=4, ge=1, description="partitions of each topic Sluice creates")
    replication_factor: int = Field(default=1, ge=1, description="replication factor of created topics")
    session_timeout_ms: int = Field(default=6000, ge=1000, description="consumer group session timeout")
    client: dict[str, str | int | bool] = Field(default_factory=dict, description="extra librdkafka settings (security.protocol, sasl.*, ...)")

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def common(self) -> dict:
        if not self.bootstrap_servers:
            raise ConfigError("no Kafka bootstrap servers configured", key="kafka.bootstrap_servers")
        return {"bootstrap.servers": self.bootstrap_servers, **self.client}

    def producer_conf(self, **extra) -> dict:
        """Defaults that `client` settings override. lz4: the broker stores and copies a
        third of the bytes, for a small cost in the clients (the embedded broker's CPU per
        event fell by half)."""
        return {"linger.ms": 5, "batch.num.messages": 10000, "compression.type": "lz4",
                "queue.buffering.max.messages": 500000, "enable.idempotence": True, **self.common(), **extra}

    def consumer_conf(self, group: str, **extra) -> dict:
        return {**self.common(), "group.id": group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "session.timeout.ms": self.session_timeout_ms,
                "heartbeat.interval.ms": max(500, self.session_timeout_ms // 6),
                "isolation.level": "read_committed", "fetch.max.bytes": 64 * 1024 * 1024,
                "queued.max.messages.kbytes": 262144, **extra}


def ensure_topics(cfg: KafkaConfig, names: list[str], timeout: float = 30.0, partitions: int | None = None,
                  config: dict[str, str] | None = None) -> None:
    """Create topics explicitly (auto-created ones get the broker's partition count)."""
    admin = AdminClient(cfg.common())
    deadline = time.monotonic() + timeout
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [n for n in names if n not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, partitions or cfg.partitions, cfg.replication_factor, config=config or {})
             for n in missing])
        for name, fut in futures.items():
            try:
                fut.result(timeout=max(1.0, deadline - time.monotonic()))
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
            log.info("created topic %s (%d partitions)", name, partitions or cfg.partitions)


def ensure_sluice_topics(cfg: KafkaConfig) -> None:
    """Every topic Sluice uses, with its own shape: the detect stage's inputs have one
    partition (its state lives in one place), silences are compacted."""
    t = cfg.topics
    special = {*t.detect_inputs, t.silences}
    ensure_topics(cfg, [n for n in t.all() if n not in special])
    ensure_topics(cfg, t.detect_inputs, partitions=1)
    ensure_topics(cfg, [t.silences], config={"cleanup.policy": "compact"})


def make_producer(cfg: KafkaConfig, **extra) -> Producer:
    return Producer(cfg.producer_conf(**extra))


def produce_all(producer: Producer, topic: str, items) -> None:
    """Produce (key, value, headers) triples, serving delivery reports whenever the local
    queue is full."""
    produce = producer.produce
    for key, value, headers in items:
        while True:
            try:
                produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)


def kafka_cluster_id(cfg: KafkaConfig, timeout: float = 30.0) -> str:
    """The cluster's id from metadata: offsets are only comparable within one cluster."""
    cid = AdminClient(cfg.common()).list_topics(timeout=timeout).cluster_id
    if not cid:
        raise ConfigError("the Kafka cluster reports no cluster id", key="kafka.bootstrap_servers")
    return cid
