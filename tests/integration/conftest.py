from __future__ import annotations

import pytest

from tests.integration.stacks import Containers, make_stack

_containers: Containers | None = None


def _containers_factory() -> Containers:
    global _containers
    if _containers is None:
        _containers = Containers()
    return _containers


def pytest_sessionfinish(session, exitstatus):
    if _containers is not None:
        _containers.stop()


@pytest.fixture(params=["embedded", "containers"])
def stack(request, embedded_broker, tmp_path, topic_prefix):
    """Kafka + ClickHouse settings for one test: the same body runs on both stacks."""
    return make_stack(request.param, embedded_broker, _containers_factory, tmp_path, topic_prefix)
