"""The ClickHouse sink: lifecycle start / write / close around a backend."""

from __future__ import annotations

import hashlib
import re
from typing import TypedDict

import orjson

from schemas.tables import INGESTED_TABLES, RAW_SOURCE_COLUMNS, RAW_SOURCE_STRUCTURE, TABLES
from sinks.clickhouse.backends import Backend, open_backend
from sinks.clickhouse.config import ClickHouseConfig
from sinks.clickhouse.migrate import apply_migrations


class RawBatch(TypedDict):
    raw: list[str]
    _cluster: list[str]
    _topic: list[str]
    _partition: list[int]
    _offset: list[int]
    _source: list[str]
    _source_offset: list[int]
    _source_index: list[int]
    # The event's place in its Kafka record (a packed record holds several,
    # schemas/packed.py): it names the event's dead letter; it is not inserted.
    _index: list[int]


def dedup_token(cluster: str, topic: str, ranges: dict[int, tuple[int, int]]) -> str:
    """Token for an insert covering, per partition, offsets first..last of `topic` on
    the Kafka cluster `cluster`.

    Built only from the coordinates, so a batch rebuilt after a restart from the same
    offsets yields the same token and ClickHouse drops the second copy. The cluster
    is part of them: another cluster (a new embedded broker per run, a rebuilt Kafka)
    numbers its offsets from 0 again, and its batches are other records.
    """
    spec = ",".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(ranges.items()))
    digest = hashlib.blake2b(f"{cluster}|{topic}|{spec}".encode(), digest_size=12).hexdigest()
    # Only [A-Za-z0-9._-] of the topic: the token goes into a SQL string literal.
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", topic)
    return f"{readable}-{digest}"


# The store inserts every half second; with ClickHouse's default merge selector (base 5)
# the small parts were merged again and again, and merges took a third of the embedded
# engine's CPU, on the cores the pipeline shares. A wider base merges more parts at once,
# less often: ~15 % less CPU per row stored in a run of 40 inserts, at the cost of a few
# more parts per partition between merges. Embedded only: a server's merges run on its
# own cores, and older servers do not know the setting.
EMBEDDED_MERGE_SELECTOR_BASE = 20


def _fewer_merges(backend: Backend, db: str) -> None:
    for table in INGESTED_TABLES:
        backend.command(f"ALTER TABLE {db}.{table} MODIFY SETTING merge_selector_base = {EMBEDDED_MERGE_SELECTOR_BASE}")


class ClickHouseSink:
    def __init__(self, cfg: ClickHouseConfig):
        self.cfg = cfg
        self._backend: Backend | None = None

    def start(self) -> ClickHouseSink:
        if self._backend is None:
            self._backend = open_backend(self.cfg)
            apply_migrations(self._backend, self.cfg)
            if self.cfg.embedded:
                _fewer_merges(self._backend, self.cfg.database)
        return self

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("ClickHouseSink.start() was not called")
        return self._backend

    def write(self, stream: str, batch: RawBatch, token: str) -> None:
        """Insert one batch of a stream's records; raises SinkError (retryable or not)."""
        columns = {name: batch[name] for name, _ in RAW_SOURCE_COLUMNS if name in batch}
        self.backend.insert(TABLES[stream].insert_template(self.cfg.database), columns, RAW_SOURCE_STRUCTURE, token)

    def insert_columns(self, template: str, columns: dict[str, list], structure: str, token: str) -> None:
        """Insert columns through an `INSERT ... SELECT ... FROM {source}` template (see
        backends.InsertStatement); `structure` types the source for a server's input()."""
        self.backend.insert(template, columns, structure, token)

    def high_water_marks(self, stream: str, cluster: str, topic: str) -> dict[int, int]:
        """Highest Kafka offset per partition of `topic` already stored for `stream`."""
        table = TABLES[stream].table
        rows = self.query_rows(
            f"SELECT _partition AS p, max(_offset) AS o FROM {self.cfg.database}.{table} "
            f"WHERE _cluster = '{cluster}' AND _topic = '{topic}' GROUP BY p")
        return {r["p"]: int(r["o"]) for r in rows}

    def source_marks(self, stream: str, cluster: str, topic: str) -> dict[tuple[int, str, bytes], tuple[int, int]]:
        """Highest (source offset, index) stored per partition of `topic`, raw source
        partition (schemas/source.py) and record key, for the tables ingest writes."""
        spec = TABLES[stream]
        rows = self.query_rows(
            f"SELECT _partition AS p, _source AS s, {spec.record_key} AS k, max((_source_offset, _source_index)) AS m "
            f"FROM {self.cfg.database}.{spec.table} WHERE _cluster = '{cluster}' AND _topic = '{topic}' "
            f"AND _source != '' GROUP BY p, s, k")
        return {(r["p"], r["s"], r["k"].encode()): (int(r["m"][0]), int(r["m"][1])) for r in rows}

    def query(self, sql: str, fmt: str = "JSONEachRow") -> bytes:
        return self.backend.query(sql, fmt)

    def query_rows(self, sql: str) -> list[dict]:
        return [orjson.loads(line) for line in self.query(sql, "JSONEachRow").splitlines() if line]

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
