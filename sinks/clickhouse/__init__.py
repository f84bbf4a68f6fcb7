"""ClickHouse output: one sink interface, two backends (embedded chDB, clickhouse-connect server)."""

from sinks.clickhouse.config import ClickHouseConfig
from sinks.clickhouse.sink import ClickHouseSink, RawBatch

__all__ = ["ClickHouseConfig", "ClickHouseSink", "RawBatch"]
