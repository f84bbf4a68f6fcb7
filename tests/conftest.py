"""Shared fixtures: the real embedded broker (one per session) and, where a Docker
engine is reachable, real Apache Kafka and ClickHouse server containers."""

from __future__ import annotations

import uuid

import pytest

from sluice.embedded import EmbeddedBroker


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory):
    broker = EmbeddedBroker(tmp_path_factory.mktemp("broker")).start()
    yield broker
    broker.close()


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix per test, so tests sharing a broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"
