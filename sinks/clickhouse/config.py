from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ClickHouseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="ClickHouse server HTTP(S) URL, e.g. http://ch:8123; unset = embedded chDB")
    data_dir: Path = Field(default=Path("var/clickhouse"), description="embedded chDB data directory (one owning process at a time)")
    database: str = Field(default="sluice", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="database holding every Sluice table")
    username: str = Field(default="default", description="server user")
    password: SecretStr = Field(default=SecretStr(""), description="server password")
    ttl_days: int = Field(default=30, ge=1, description="retention of event tables, days")
    dedup_window: int = Field(default=1000, ge=1, description="inserts remembered per table for insert_deduplication_token")
    insert_threads: int = Field(default=2, ge=1, description="max_threads ClickHouse may use for one insert")

    @property
    def embedded(self) -> bool:
        return self.url is None
