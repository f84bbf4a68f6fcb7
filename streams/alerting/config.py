"""Alert manager configuration (config/alerting.yaml): routing tree, grouping,
inhibition and lifecycle timings. Validated at start-up; an error names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from schemas.errors import ConfigError
from streams.alerting.matchers import MatcherError, parse_matcher
from streams.detect.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
DEFAULT_PATH = Path("config") / "alerting.yaml"


def _check_matchers(value: list[str]) -> list[str]:
    for text in value:
        try:
            parse_matcher(text)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
    return value


class Route(BaseModel):
    """A node of the routing tree. Unset fields inherit from the parent route."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(default="", description="shown in group keys and history; default: the route's path")
    matchers: list[str] = Field(default_factory=list, description="label matchers, all must match (none: any alert)")
    topics: list[str] | None = Field(default=None, description="topics to notify; `{prefix}` is the topic prefix")
    continue_: bool = Field(default=False, alias="continue",
                            description="keep trying the next sibling routes after this one matched")
    group_by: list[str] | None = Field(default=None, description="labels whose values form a notification group")
    group_wait: Duration | None = Field(default=None, description="wait before the first notification of a new group")
    group_interval: Duration | None = Field(default=None, description="min time between notifications of a group")
    repeat_interval: Duration | None = Field(default=None, description="re-notify a still-firing alert after this")
    routes: list[Route] = Field(default_factory=list, description="child routes, tried in order")

    _matchers = field_validator("matchers")(_check_matchers)

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, value: list[str] | None) -> list[str] | None:
        for topic in value or []:
            probe = topic.replace("{prefix}", "p")
            if not probe or any(not (ch.isalnum() or ch in "._-") for ch in probe):
                raise ValueError(f"invalid topic {topic!r}: letters, digits, '.', '_', '-' and {{prefix}} only")
        return value


class RootRoute(Route):
    """The root: every field has a value, so each route resolves to complete settings."""

    topics: list[str] = Field(default_factory=lambda: ["{prefix}.alerts"], description="default topics")
    group_by: list[str] = Field(default_factory=lambda: ["rule_id", "tenant"], description="default grouping")
    group_wait: Duration = Field(default=5.0, description="default group_wait")
    group_interval: Duration = Field(default=60.0, description="default group_interval")
    repeat_interval: Duration = Field(default=4 * 3600.0, description="default repeat_interval")


class InhibitRule(BaseModel):
    """A firing source alert mutes the target alerts that carry the same `equal` labels."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="shown in the history row of an inhibited alert")
    source_match: dict[str, str] = Field(default_factory=dict, description="label -> value the source must have")
    source_matchers: list[str] = Field(default_factory=list, description="more source matchers (regex, !=)")
    target_match: dict[str, str] = Field(default_factory=dict, description="label -> value the target must have")
    target_matchers: list[str] = Field(default_factory=list, description="more target matchers (regex, !=)")
    equal: list[str] = Field(default_factory=list, description="labels that must be present, non-empty and equal "
                                                               "on source and target")

    _source = field_validator("source_matchers")(_check_matchers)
    _target = field_validator("target_matchers")(_check_matchers)


class AlertingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: RootRoute = Field(default_factory=RootRoute, description="the routing tree")
    inhibit_rules: list[InhibitRule] = Field(default_factory=list, description="inhibition rules")
    resolve_after: Duration = Field(default=300.0, description="event alerts (pattern, sequence, compliance, canary) "
                                                               "resolve after this long without a new detection")
    state_retention: Duration = Field(default=86400.0, description="keep resolved alerts this long so replayed "
                                                                   "candidates stay idempotent")
    max_evidence_ids: int = Field(default=20, ge=0, le=1000, description="event ids kept per alert as evidence")

    def topics(self, prefix: str) -> list[str]:
        """Every topic the routing tree can notify, for creating them at start-up."""
        found: list[str] = []

        def walk(route: Route) -> None:
            for topic in route.topics or []:
                name = topic.replace("{prefix}", prefix)
                if name not in found:
                    found.append(name)
            for child in route.routes:
                walk(child)

        walk(self.route)
        return found


def load_alerting_config(path: Path | str | None = None) -> AlertingConfig:
    """The config at `path` (default config/alerting.yaml; built-in defaults when that
    default file is absent). Raises ConfigError naming the bad key."""
    explicit = path is not None
    file = Path(path) if explicit else DEFAULT_PATH
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError:
        if explicit:
            raise ConfigError("alerting config file not found", where=str(file)) from None
        return AlertingConfig()
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read alerting config: {exc}", where=str(file)) from None
    if not isinstance(data, dict):
        raise ConfigError("alerting config must hold a mapping", where=str(file))
    try:
        return AlertingConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid alerting config: {problems}", key=key, where=str(file)) from None
