"""Settings: environment (SLUICE_ prefix, `__` for nesting, e.g.
SLUICE_KAFKA__BOOTSTRAP_SERVERS), an optional YAML file, then CLI flags. Unset Kafka
and ClickHouse addresses mean: run the embedded stack."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError
from sinks.clickhouse import ClickHouseConfig
from sinks.kafka import KafkaConfig
from streams.aggregate import WindowConfig
from streams.clock import ClockConfig
from streams.detect.app import DetectConfig
from streams.ingest.pipeline import IngestConfig
from streams.store import StoreConfig


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default=Path("var"), description="embedded broker state file, chDB data, run artefacts")
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    clickhouse: ClickHouseConfig = Field(default_factory=ClickHouseConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    windows: WindowConfig = Field(default_factory=WindowConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="base port of the Prometheus /metrics endpoints (one per process: base, base+1, ...); unset = off")

    @model_validator(mode="after")
    def _embedded_paths(self):
        if "data_dir" not in self.clickhouse.model_fields_set:
            self.clickhouse.data_dir = self.data_dir / "clickhouse"
        return self

    @model_validator(mode="after")
    def _groups_of_prefix(self):
        """Consumer groups follow the topic prefix unless set: two deployments sharing a
        cluster under different prefixes must not rebalance each other's workers (a
        member of the other deployment that stopped polling would hold every rebalance
        of the shared group for up to max.poll.interval.ms)."""
        for stage, role in ((self.ingest, "ingest"), (self.store, "store")):
            if "group" not in stage.model_fields_set:
                stage.group = f"{self.kafka.topic_prefix}-{role}"
        return self

    @model_validator(mode="after")
    def _rules_read_a_window_size(self):
        """Rules on rollups see the partials of one size; a size ingest does not close
        would leave them silently empty."""
        size, sizes = self.detect.rollup_window_s, self.windows.window_sizes_s
        if size not in sizes:
            raise ValueError(f"detect.rollup_window_s = {size} is not one of windows.window_sizes_s = {sizes}: "
                             f"rules on rollups would never see a window; add {size} to windows.window_sizes_s")
        return self

    @property
    def stack_file(self) -> Path:
        return self.data_dir / "stack.json"

    def write_for_children(self, path: Path) -> Path:
        """The resolved settings as a file child processes load with --config
        (secrets included, so the file is private to the user)."""
        data = self.model_dump(mode="json")
        data["clickhouse"]["password"] = self.clickhouse.password.get_secret_value()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(yaml.safe_dump(data))
        return path


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"])
        parts.append(f"{key}: {e['msg']}")
    return "; ".join(parts)


def load_settings(config_file: Path | None = None, **overrides) -> Settings:
    """Settings from env + optional YAML file + overrides (dotted keys allowed: 'kafka.partitions').
    Fails fast with a ConfigError that names the bad key."""
    data: dict = {}
    if config_file is not None:
        try:
            data = yaml.safe_load(Path(config_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file: {exc}", where=str(config_file)) from None
        if not isinstance(data, dict):
            raise ConfigError("config file must hold a mapping", where=str(config_file))
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {_describe(exc)}", where=str(config_file or "")) from None


class StackInfo(BaseModel):
    """What `sluice run`/`demo` records in the data directory for other commands."""

    model_config = ConfigDict(extra="ignore")

    bootstrap_servers: str
    sql_url: str | None = None
    topic_prefix: str = "sluice"
    database: str = "sluice"
    pid: int = 0
