"""Run SQL against whatever ClickHouse is configured: the running embedded stack's
HTTP endpoint, the embedded data directory directly, or a ClickHouse server."""

from __future__ import annotations

from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import urlopen

import orjson

from schemas.errors import PermanentSinkError, RetryableSinkError
from sinks.clickhouse import ClickHouseSink
from sluice.embedded import read_stack
from sluice.settings import Settings


class SqlClient:
    def __init__(self, settings: Settings, sql_url: str | None = None):
        self.settings = settings
        self.sql_url = sql_url
        self._sink: ClickHouseSink | None = None
        if self.sql_url is None and settings.clickhouse.embedded:
            info = read_stack(settings.stack_file)
            if info is not None and info.sql_url:
                self.sql_url = info.sql_url

    @property
    def database(self) -> str:
        return self.settings.clickhouse.database

    def query(self, sql: str, fmt: str = "TabSeparated", timeout: float = 300.0) -> bytes:
        if self.sql_url:
            url = f"{self.sql_url}/?{urlencode({'default_format': fmt})}"
            try:
                with urlopen(url, data=sql.encode(), timeout=timeout) as resp:
                    return resp.read()
            except HTTPError as exc:
                raise PermanentSinkError(exc.read().decode("utf-8", "replace").strip()) from None
            except URLError as exc:
                raise RetryableSinkError(f"SQL endpoint {self.sql_url} unreachable: {exc.reason}") from None
        if self._sink is None:
            self._sink = ClickHouseSink(self.settings.clickhouse).start()
        return self._sink.query(sql, fmt)

    def rows(self, sql: str) -> list[dict]:
        return [orjson.loads(line) for line in self.query(sql, "JSONEachRow").splitlines() if line]

    def scalar(self, sql: str):
        rows = self.rows(sql)
        return next(iter(rows[0].values())) if rows else None

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None
