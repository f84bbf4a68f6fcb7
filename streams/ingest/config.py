"""Configuration of the ingest stage, validated at start-up: a bad format name,
time zone, pattern or table path fails fast with a ConfigError naming the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from schemas.errors import ConfigError
from streams.ingest.decoders import check_format


class RedactionPattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="kind name: matches become [REDACTED:<kind>] and are counted under it")
    regex: str = Field(description="Python regular expression of the text to redact (RE2-compatible unless a hint is given)")
    hint: str = Field(default="", description="a literal (case-insensitive) present in every match; lets the batch pre-check skip the regex on clean events")


class RedactionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patterns: list[RedactionPattern] = Field(default_factory=list, description="extra patterns to redact, on top of card numbers and the built-in secrets")
    hash_fields: list[str] = Field(default_factory=list, description="canonical fields or attribute/label keys (e.g. user.email, actor) whose values are replaced by a keyed hash")
    hash_key: SecretStr | None = Field(default=None, description="key of the hash applied to hash_fields (required when hash_fields is set)")
    card_networks_only: bool = Field(default=False, description="mask only Luhn-valid numbers whose leading digits a card network issues (2-6); off: every Luhn-valid 13-19 digit number, thread ids and epoch timestamps included")

    @model_validator(mode="after")
    def _check(self) -> RedactionConfig:
        for i, p in enumerate(self.patterns):
            try:
                re.compile(p.regex)
            except re.error as exc:
                raise ConfigError(f"invalid regular expression: {exc}", key=f"ingest.redaction.patterns[{i}].regex") from None
        if self.hash_fields and (self.hash_key is None or not self.hash_key.get_secret_value()):
            raise ConfigError("hash_fields is set but no hash_key is given", key="ingest.redaction.hash_key")
        return self


class EnrichmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: Path | None = Field(default=None, description="YAML or CSV table: service -> team, owner, tier, ...")
    hosts: Path | None = Field(default=None, description="YAML or CSV table: host (or glob) -> env, region, ...")
    reload_interval_s: float = Field(default=10.0, gt=0, description="how often the batch loop checks the table files for changes")

    @model_validator(mode="after")
    def _check(self) -> EnrichmentConfig:
        for key in ("services", "hosts"):
            path = getattr(self, key)
            if path is not None and not path.is_file():
                raise ConfigError(f"table file {str(path)!r} does not exist", key=f"ingest.enrichment.{key}")
        return self


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(default="sluice-ingest", description="consumer group of the ingest workers (in Settings: <kafka.topic_prefix>-ingest unless set)")
    batch_size: int = Field(default=10000, ge=1, description="events per batch (and per transaction): records are consumed at the last batch's events per record, at most this many")
    batch_timeout_s: float = Field(default=0.1, gt=0, description="max wait for a batch to fill")
    max_record_bytes: int = Field(default=1024 * 1024, ge=1024, description="larger records are dead-lettered as oversize")
    workers: int = Field(default=2, ge=1, description="ingest worker processes started by `sluice run`")
    formats: dict[str, str] = Field(default_factory=dict, description="format per raw topic or per stream (logs/metrics/security), e.g. {'sluice.raw.logs': 'syslog'}; 'auto' (default) detects per record")
    timezone: str = Field(default="UTC", description="IANA zone assumed for timestamps that carry none (RFC 3164 syslog, Apache error log, naive ISO 8601)")
    timestamps: Literal["flag", "reject"] = Field(default="flag", description="event times before 2000 or over a day ahead: 'flag' uses the observed time and flags the event, 'reject' dead-letters the record as timestamp_out_of_range")
    auth_as_security: bool = Field(default=True, description="Linux auth lines (sshd, sudo, PAM, ...) and CEF arriving on the logs stream become security events on the security topic")
    max_events_per_record: int = Field(default=100_000, ge=1, description="a record that decodes to more events (a huge scrape page or OTLP batch) is dead-lettered as too_many_events")
    lineage: bool = Field(default=False, description="add attributes['sluice.source'] = 'topic/partition/offset' of the raw record to every event (sluice process accounts for every record with it)")
    pause_gc: bool = Field(default=True, description="suspend Python's cyclic garbage collector while a batch is processed (events hold no reference cycles; saves CPU)")
    redaction: RedactionConfig = Field(default_factory=RedactionConfig, description="extra redaction patterns and hashed fields")
    enrichment: EnrichmentConfig = Field(default_factory=EnrichmentConfig, description="static service/host tables")

    @model_validator(mode="after")
    def _check(self) -> IngestConfig:
        for key, name in self.formats.items():
            check_format(name, key=f"ingest.formats.{key}")
        try:
            if self.timezone not in ("UTC", "Etc/UTC", "Z"):
                ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {self.timezone!r}", key="ingest.timezone") from None
        return self
