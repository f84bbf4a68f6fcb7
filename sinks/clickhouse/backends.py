"""The two ClickHouse backends behind one small interface.

`insert_raw` takes the records' JSON text plus their Kafka coordinates; the SQL that
turns them into columns comes from schemas.tables and is the same for both.
"""

from __future__ import annotations

import threading
from typing import Protocol

import orjson

from sinks.clickhouse.config import ClickHouseConfig
from sinks.clickhouse.errors import classify


class Backend(Protocol):
    def command(self, sql: str) -> None: ...
    def query(self, sql: str, fmt: str = "JSONEachRow") -> bytes: ...
    def insert(self, template: str, columns: dict[str, list], structure: str, token: str) -> None: ...
    def close(self) -> None: ...


class InsertStatement:
    """An `INSERT ... SELECT ... FROM {source}` whose source relation each backend fills in:
    chDB reads Python lists, a server reads the request body through `input()`."""

    SOURCE = "{source}"
    SETTINGS = "{settings}"


def _settings_clause(token: str, extra: str = "") -> str:
    parts = [f"insert_deduplication_token='{token}'"] + ([extra] if extra else [])
    return "SETTINGS " + ", ".join(parts) + " "


class ChdbBackend:
    """Embedded ClickHouse engine (chDB) owning a data directory in this process."""

    def __init__(self, cfg: ClickHouseConfig):
        import chdb.session  # imported here: server deployments never load the engine

        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self._threads = cfg.insert_threads
        # The HTTP SQL endpoint queries from its own threads; chDB sessions are not
        # documented as thread-safe, so every call goes through one lock.
        self._lock = threading.Lock()
        try:
            self._session = chdb.session.Session(str(cfg.data_dir))
        except Exception as exc:  # chDB raises plain RuntimeError on a locked directory
            raise classify(exc) from exc

    def command(self, sql: str) -> None:
        self.query(sql, "CSV")

    def query(self, sql: str, fmt: str = "JSONEachRow") -> bytes:
        with self._lock:
            try:
                res = self._session.query(sql, fmt)
            except Exception as exc:
                raise classify(exc) from exc
        return res.bytes() if res is not None else b""

    def insert(self, template: str, columns: dict[str, list], structure: str, token: str) -> None:
        # chDB's Python() table function finds its argument by name in the calling
        # frames; a name nothing else uses keeps it from picking up another variable.
        sluice_insert_columns = columns  # noqa: F841 (read by chDB through the frame)
        sql = (template.replace(InsertStatement.SOURCE, "Python(sluice_insert_columns)")
               .replace(InsertStatement.SETTINGS, _settings_clause(token, f"max_threads={self._threads}")))
        with self._lock:
            try:
                self._session.query(sql, "CSV")
            except Exception as exc:
                raise classify(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._session.close()


class ServerBackend:
    """A ClickHouse server or cluster through clickhouse-connect (HTTP)."""

    def __init__(self, cfg: ClickHouseConfig):
        import clickhouse_connect

        try:
            self._client = clickhouse_connect.get_client(
                dsn=cfg.url, username=cfg.username, password=cfg.password.get_secret_value())
        except Exception as exc:
            raise classify(exc) from exc

    def command(self, sql: str) -> None:
        try:
            self._client.command(sql)
        except Exception as exc:
            raise classify(exc) from exc

    def query(self, sql: str, fmt: str = "JSONEachRow") -> bytes:
        try:
            return self._client.raw_query(sql, fmt=fmt)
        except Exception as exc:
            raise classify(exc) from exc

    def insert(self, template: str, columns: dict[str, list], structure: str, token: str) -> None:
        names = list(columns)
        body = b"\n".join(orjson.dumps(dict(zip(names, row, strict=True)))
                          for row in zip(*columns.values(), strict=True))
        sql = (template.replace(InsertStatement.SOURCE, f"input('{structure}')")
               .replace(InsertStatement.SETTINGS, "") + " FORMAT JSONEachRow")
        try:
            self._client.command(sql, data=body, settings={"insert_deduplication_token": token})
        except Exception as exc:
            raise classify(exc) from exc

    def close(self) -> None:
        self._client.close()


def open_backend(cfg: ClickHouseConfig) -> Backend:
    return ChdbBackend(cfg) if cfg.embedded else ServerBackend(cfg)
