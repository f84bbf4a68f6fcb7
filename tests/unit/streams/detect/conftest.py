import pytest

from tests.unit.streams.detect.backtest_harness import chdb_database


@pytest.fixture(scope="module")
def ch(tmp_path_factory):
    """An in-process ClickHouse with the real DDL, one per test module."""
    yield from chdb_database(tmp_path_factory)
