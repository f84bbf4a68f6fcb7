"""Enrichment from static tables: service -> team, owner, tier (and any other
column); host -> env, region (and any other column).

Tables are YAML (a mapping `name: {column: value}` or a list of rows with a `service`
/ `host` key) or CSV (a header row whose first column is the key). A key may be a
glob (`pay-*`); exact keys win, then globs in file order. Values fill the event's
`env` when it is empty and otherwise become attributes; an attribute the event
already carries is never overwritten (the source knows better than the table).

Tables are reloaded when their file changes: the batch loop calls `maybe_reload()`,
which looks at the files' mtime and size at most every `reload_interval_s`. A file
that fails to load keeps the previous table in force and logs the error, so a bad
edit never takes enrichment (or the worker) down.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import logging
import os
import time
from pathlib import Path

import orjson
import yaml

log = logging.getLogger(__name__)
_CANONICAL = ("env",)
_MEMO_LIMIT = 50_000


class TableError(ValueError):
    pass


def _rows_from_yaml(text: str, key: str) -> list[tuple[str, dict]]:
    data = yaml.safe_load(text)
    if data is None:
        return []
    if isinstance(data, dict) and set(data) == {f"{key}s"}:
        data = data[f"{key}s"]
    rows: list[tuple[str, dict]] = []
    if isinstance(data, dict):
        for name, cols in data.items():
            if not isinstance(cols, dict):
                raise TableError(f"entry {name!r}: expected a mapping of columns, got {type(cols).__name__}")
            rows.append((str(name), cols))
    elif isinstance(data, list):
        for i, row in enumerate(data, start=1):
            if not isinstance(row, dict) or key not in row:
                raise TableError(f"row {i}: expected a mapping with a {key!r} key")
            cols = {k: v for k, v in row.items() if k != key}
            rows.append((str(row[key]), cols))
    else:
        raise TableError(f"expected a mapping or a list, got {type(data).__name__}")
    return rows


def _rows_from_csv(text: str) -> list[tuple[str, dict]]:
    reader = csv.reader(io.StringIO(text))
    header = None
    rows: list[tuple[str, dict]] = []
    for lineno, row in enumerate(reader, start=1):
        if not row or row[0].startswith("#"):
            continue
        if header is None:
            header = [h.strip() for h in row]
            continue
        if len(row) != len(header):
            raise TableError(f"line {lineno}: {len(row)} columns, header has {len(header)}")
        rows.append((row[0].strip(), {h: v.strip() for h, v in zip(header[1:], row[1:], strict=True)}))
    if header is None:
        raise TableError("no header row")
    return rows


def load_table(path: Path, key: str) -> list[tuple[str, dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    rows = _rows_from_csv(text) if path.suffix.lower() == ".csv" else _rows_from_yaml(text, key)
    out = []
    for name, cols in rows:
        clean = {str(k): "" if v is None else str(v) for k, v in cols.items()}
        out.append((name, clean))
    return out


class Table:
    """Lookups with exact keys first, then globs; results memoized per key."""

    def __init__(self, rows: list[tuple[str, dict[str, str]]]):
        self.exact: dict[str, dict[str, str]] = {}
        self.globs: list[tuple[str, dict[str, str]]] = []
        for name, cols in rows:
            if any(c in name for c in "*?["):
                self.globs.append((name, cols))
            else:
                self.exact[name] = cols
        self._memo: dict[str, dict[str, str] | None] = {}

    def __len__(self) -> int:
        return len(self.exact) + len(self.globs)

    def get(self, name: str) -> dict[str, str] | None:
        hit = self.exact.get(name)
        if hit is not None or not self.globs:
            return hit
        if name in self._memo:
            return self._memo[name]
        for pattern, cols in self.globs:
            if fnmatch.fnmatchcase(name, pattern):
                hit = cols
                break
        if len(self._memo) > _MEMO_LIMIT:
            self._memo.clear()
        self._memo[name] = hit
        return hit


class _Source:
    def __init__(self, path: Path, key: str):
        self.path = path
        self.key = key
        self.stamp: tuple[float, int] | None = None
        self.table = Table([])
        self.error: str = ""

    def load(self) -> bool:
        """(Re)load when the file changed. True when a new table is in force."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            self._fail(f"cannot stat: {exc}")
            return False
        stamp = (st.st_mtime, st.st_size)
        if stamp == self.stamp:
            return False
        try:
            table = Table(load_table(self.path, self.key))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, csv.Error, TableError) as exc:
            self.stamp = stamp  # do not retry the same broken content every check
            self._fail(str(exc))
            return False
        self.stamp = stamp
        self.table = table
        self.error = ""
        log.info("enrichment table %s loaded: %d %ss", self.path, len(table), self.key)
        return True

    def _fail(self, message: str) -> None:
        self.error = message
        log.error("enrichment table %s not loaded, keeping the previous one (%d %ss): %s", self.path,
                  len(self.table), self.key, message)


class Enricher:
    """Applies the service and host tables to canonical events."""

    def __init__(self, services: str | Path | None = None, hosts: str | Path | None = None,
                 reload_interval_s: float = 10.0, clock=time.monotonic):
        self.sources = {}
        if services:
            self.sources["service"] = _Source(Path(services), "service")
        if hosts:
            self.sources["host"] = _Source(Path(hosts), "host")
        self.interval = reload_interval_s
        self.clock = clock
        self._next_check = 0.0
        for src in self.sources.values():
            src.load()
        self._bind()

    @property
    def active(self) -> bool:
        return bool(self.sources)

    def _bind(self) -> None:
        svc = self.sources.get("service")
        host = self.sources.get("host")
        self._services = svc.table if svc else Table([])
        self._hosts = host.table if host else Table([])
        # service -> host -> (env, extra, extra's members as JSON): two str look-ups,
        # cheaper than one of a new (service, host) tuple, which must be built, hashed
        # and compared every event. The JSON is for the batch loop (_hotloop.c), which
        # writes it after an event's attributes rather than adding the items to them.
        self._memo: dict[str, dict[str, tuple[str, dict | None, bytes]]] = {}
        self._memo_size = 0
        self._next_check = self.clock() + self.interval

    def maybe_reload(self) -> bool:
        """Check the files if the interval has passed. True when a table changed."""
        if not self.sources or self.clock() < self._next_check:
            return False
        changed = False
        for src in self.sources.values():
            changed |= src.load()
        if changed:
            self._bind()  # a new table: the memo of the old ones goes
        else:
            self._next_check = self.clock() + self.interval
        return changed

    def _resolve(self, service: str, host: str) -> tuple[str, dict | None, bytes]:
        """(env to fill, attributes to add, their JSON members) for one (service, host):
        both tables merged, the host table winning, and memoized."""
        env = ""
        extra: dict[str, str] = {}
        for cols in (self._services.get(service), self._hosts.get(host) if host else None):
            if cols is None:
                continue
            for k, v in cols.items():
                if not v:
                    continue
                if k in _CANONICAL:
                    env = v
                else:
                    extra[k] = v
        if self._memo_size >= _MEMO_LIMIT:
            self._memo.clear()
            self._memo_size = 0
        by_host = self._memo.get(service)
        if by_host is None:
            by_host = self._memo[service] = {}
        hit = by_host[host] = (env, extra or None, orjson.dumps(extra)[1:-1])
        self._memo_size += 1
        return hit

    def apply(self, ev: dict) -> None:
        """Fill `env` when empty; add table columns as attributes the event lacks."""
        service, host = ev["service"], ev["host"]
        by_host = self._memo.get(service)
        hit = None if by_host is None else by_host.get(host)
        if hit is None:
            hit = self._resolve(service, host)
        env, extra, _ = hit
        if extra is not None:
            attrs = ev["attributes"]
            merged = dict(attrs) if attrs else {}
            for k, v in extra.items():
                merged.setdefault(k, v)
            ev["attributes"] = merged
        if env and not ev["env"]:
            ev["env"] = env
