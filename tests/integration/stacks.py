"""The two stacks integration tests run on: embedded (Tansu + chDB, always) and
containers (Apache Kafka + ClickHouse server via testcontainers, when Docker is reachable)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sinks.clickhouse import ClickHouseConfig
from sinks.kafka import KafkaConfig


@dataclass
class StackConfig:
    name: str
    kafka: KafkaConfig
    clickhouse: ClickHouseConfig


def docker_unavailable_reason() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # no engine, no socket, no permission: all mean "skip"
        return f"no Docker engine reachable ({type(exc).__name__}); container stack skipped"
    return None


class Containers:
    """Started once per session, on first use."""

    def __init__(self):
        self._kafka = None
        self._ch = None

    def start(self):
        if self._kafka is None:
            from testcontainers.clickhouse import ClickHouseContainer
            from testcontainers.kafka import KafkaContainer

            self._kafka = KafkaContainer("apache/kafka:3.8.0").with_kraft().start()
            self._ch = ClickHouseContainer("clickhouse/clickhouse-server:24.8").start()
        return self

    @property
    def bootstrap_servers(self) -> str:
        return self._kafka.get_bootstrap_server()

    @property
    def clickhouse_url(self) -> str:
        host = self._ch.get_container_host_ip()
        port = self._ch.get_exposed_port(8123)
        return f"http://{self._ch.username}:{self._ch.password}@{host}:{port}"

    def stop(self):
        for c in (self._kafka, self._ch):
            if c is not None:
                c.stop()


def make_stack(kind: str, embedded_broker, containers_factory, tmp_path, topic_prefix: str) -> StackConfig:
    database = f"db_{topic_prefix}"
    if kind == "embedded":
        return StackConfig(kind,
                           KafkaConfig(bootstrap_servers=embedded_broker.bootstrap_servers,
                                       topic_prefix=topic_prefix, partitions=2),
                           ClickHouseConfig(data_dir=tmp_path / "clickhouse", database=database))
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    c = containers_factory().start()
    return StackConfig(kind, KafkaConfig(bootstrap_servers=c.bootstrap_servers, topic_prefix=topic_prefix,
                                         partitions=2, session_timeout_ms=10000),
                       ClickHouseConfig(url=c.clickhouse_url, database=database))
