"""Silences: label matchers that mute notifications for a time span.

They live in a compacted Kafka topic (`{prefix}.silences`): key = silence id,
value = the silence JSON below, a later record with the same id replaces the
earlier one (expiring early writes the silence again with `state: expired`),
and a tombstone (value None) deletes it. Every alert manager replica reads the
whole topic into a `SilenceStore`, so all of them mute the same alerts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from streams.alerting.matchers import Matcher, MatcherError, matches_all, parse_matchers

Status = Literal["pending", "active", "expired"]


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="unique id (a UUID when created by the CLI)")
    matchers: list[str] = Field(min_length=1, description="label matchers, all must match: team=payments, "
                                                          "rule_id=~\"sre\\..*\", severity!=critical")
    starts_at: float = Field(description="start, UTC epoch seconds")
    ends_at: float = Field(description="end, UTC epoch seconds")
    created_by: str = Field(min_length=1, description="who created (or last changed) it")
    comment: str = Field(min_length=1, description="why: a ticket, an incident, a maintenance window")
    state: Literal["active", "expired"] = Field(default="active", description="expired: ended early by a person")
    ts: float = Field(description="when this version of the silence was written, UTC epoch seconds")

    _compiled: list[Matcher] = PrivateAttr(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        try:
            compiled = parse_matchers(value)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        # A silence that also matches an alert without labels would mute everything.
        if matches_all(compiled, {}):
            raise ValueError("at least one matcher must require a non-empty label value "
                             "(this silence would mute every alert)")
        return value

    @model_validator(mode="after")
    def _span(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        self._compiled = parse_matchers(self.matchers)
        return self

    def status(self, now: float) -> Status:
        if self.state == "expired" or now >= self.ends_at:
            return "expired"
        return "pending" if now < self.starts_at else "active"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self._compiled, labels)


def new_silence(matchers: list[str], duration_s: float, created_by: str, comment: str, now: float,
                starts_at: float | None = None, silence_id: str | None = None) -> Silence:
    start = now if starts_at is None else starts_at
    return Silence(id=silence_id or str(uuid.uuid4()), matchers=list(matchers), starts_at=start,
                   ends_at=start + duration_s, created_by=created_by, comment=comment, ts=now)


def expire_silence(silence: Silence, now: float, by: str | None = None) -> Silence:
    """The silence ended now (kept as a record, so `list` and the audit table show it)."""
    changes = {"state": "expired", "ts": now, "ends_at": max(silence.starts_at + 1e-6, min(silence.ends_at, now))}
    if by:
        changes["created_by"] = by
    return Silence.model_validate({**silence.model_dump(), **changes})


def encode_silence(silence: Silence) -> tuple[bytes, bytes]:
    """(key, value) of the silence's record on the silences topic."""
    return silence.id.encode(), orjson.dumps(silence.model_dump())


def decode_silence(key: bytes | str | None, value: bytes | str | None) -> Silence | None:
    """The silence of a record, or None for a tombstone. Raises ValueError on a bad
    record or one whose key is not its id."""
    if value is None:
        return None
    try:
        silence = Silence.model_validate_json(value)
    except ValidationError as exc:
        raise ValueError(f"invalid silence record: {exc.errors()[0]['msg']}") from None
    text = key.decode() if isinstance(key, bytes) else key
    if text is not None and text != silence.id:
        raise ValueError(f"silence record key {text!r} differs from its id {silence.id!r}")
    return silence


class SilenceStore:
    """The silences topic applied in memory: the latest version of each silence."""

    def __init__(self) -> None:
        self._by_id: dict[str, Silence] = {}
        self.rejected = 0  # bad records seen (counted, never fatal: the topic is shared input)

    def apply(self, key: bytes | str | None, value: bytes | str | None) -> Silence | None:
        """Apply one record of the topic; returns the silence it stored, else None."""
        try:
            silence = decode_silence(key, value)
        except ValueError:
            self.rejected += 1
            return None
        if silence is None:
            if key is not None:
                self._by_id.pop(key.decode() if isinstance(key, bytes) else key, None)
            return None
        return silence if self.put(silence) else None

    def put(self, silence: Silence) -> bool:
        """Store unless an equal-or-newer version is already there (replays keep the latest)."""
        current = self._by_id.get(silence.id)
        if current is not None and current.ts > silence.ts:
            return False
        self._by_id[silence.id] = silence
        return True

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def all(self) -> list[Silence]:
        return sorted(self._by_id.values(), key=lambda s: (s.starts_at, s.id))

    def active(self, now: float) -> list[Silence]:
        return [s for s in self.all() if s.status(now) == "active"]

    def match(self, labels: Mapping[str, str], now: float) -> Silence | None:
        """The first active silence muting these labels (oldest first, for stable history)."""
        for silence in self.active(now):
            if silence.matches(labels):
                return silence
        return None

    def __len__(self) -> int:
        return len(self._by_id)
