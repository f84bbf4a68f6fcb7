"""Versioned migrations: schemas/migrations/NNNN_name.sql applied once each, in order,
and recorded in `schema_migrations`."""

from __future__ import annotations

import logging
from importlib import resources

import orjson

from sinks.clickhouse.backends import Backend
from sinks.clickhouse.config import ClickHouseConfig

log = logging.getLogger(__name__)


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql text) for every migration file, ordered by version."""
    found = []
    for entry in resources.files("schemas").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name[:-4].partition("_")
            found.append((int(version), name, entry.read_text()))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


def apply_migrations(backend: Backend, cfg: ClickHouseConfig) -> list[int]:
    """Apply what is missing; return the versions applied now."""
    db = cfg.database
    backend.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    backend.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version")
    done = {orjson.loads(line)["version"] for line in
            backend.query(f"SELECT version FROM {db}.schema_migrations", "JSONEachRow").splitlines() if line}
    applied = []
    params = {"db": db, "ttl_days": cfg.ttl_days, "dedup_window": cfg.dedup_window}
    for version, name, text in available_migrations():
        if version in done:
            continue
        for stmt in split_statements(text):
            backend.command(stmt.rstrip(";").format(**params))
        backend.command(f"INSERT INTO {db}.schema_migrations (version, name) VALUES ({version}, '{name}')")
        log.info("applied migration %04d_%s", version, name)
        applied.append(version)
    return applied
