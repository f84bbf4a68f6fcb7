"""Pydantic models of the rule file format, one model per `kind:`.

Models check shape and types (`extra="forbid"`, so a misspelt key is an error
naming that key); expressions, templates and regexes are strings here and are
compiled by the evaluators, which report their errors at the exact position
(see `evaluators.base.CompileContext`). `validate_rule` maps pydantic errors onto the
file:line:col recorded by `yamlloc`. The format is documented in rules/README.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from streams.detect.durations import parse_duration
from streams.detect.yamlloc import Located, Problem

Duration = Annotated[float, BeforeValidator(parse_duration)]
Severity = Literal["info", "warning", "critical"]
Source = Literal["logs", "metrics", "security", "rollups", "signals", "deployments"]
Direction = Literal["up", "down", "both"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True)


class Annotations(Strict):
    summary: str = Field(description="one-line template, e.g. 'Failure ratio {{ value | pct }} on {{ group.provider }}'")
    description: str = Field(default="", description="longer template: what it means and what to do first")
    runbook_url: str = Field(default="", description="link to the runbook for this alert")


class ExpectedAlert(Strict):
    status: Literal["firing", "resolved"] = Field(default="firing", description="alert status")
    group: dict[str, Any] | None = Field(default=None, description="group labels the alert must carry (subset match)")
    at: float | str | None = Field(default=None, description="evaluation time of the alert (test clock)")
    starts_at: float | str | None = Field(default=None, description="alert start (test clock)")
    severity: Severity | None = Field(default=None, description="expected severity")
    summary_contains: str | None = Field(default=None, description="text the rendered summary must contain")
    values: dict[str, Any] = Field(default_factory=dict, description="expected `values` entries (numbers compared to 1e-3 relative)")


TestTime = float | str  # seconds or a duration ("5m") after the test epoch, or an ISO-8601 UTC time
ITEM_KEYS = ("log", "metric", "security", "signal", "rollup", "deployment")


Items = dict[str, Any] | list[dict[str, Any]]  # a list: several items at the same time


class InputStep(Strict):
    log: Items | None = Field(default=None, description="a log event (schemas.events.LogEvent fields)")
    metric: Items | None = Field(default=None, description="a metric sample (MetricSample fields)")
    security: Items | None = Field(default=None, description="a security event (SecurityEvent fields)")
    signal: Items | None = Field(default=None, description="an ingest signal")
    rollup: Items | None = Field(default=None, description="a merged rollup (window_s defaults to 60)")
    deployment: Items | None = Field(default=None, description="a deployment event")
    tick: TestTime | None = Field(default=None, description="run the timer at this time")
    at: TestTime | None = Field(default=None, description="time of the item (ts, or window_start of a rollup)")
    repeat: int = Field(default=1, ge=1, le=20000, description="emit the item this many times")
    every: Duration = Field(default=0.0, description="time between repeats")
    vary: dict[str, list[Any]] = Field(default_factory=dict, description="field -> values cycled across repeats")

    @model_validator(mode="after")
    def _one_item(self) -> InputStep:
        given = [key for key in (*ITEM_KEYS, "tick") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"a step needs exactly one of {', '.join(ITEM_KEYS)}, tick; got {given or 'none'}")
        return self

    @property
    def item_kind(self) -> str:
        return next(key for key in (*ITEM_KEYS, "tick") if getattr(self, key) is not None)


class TestCase(Strict):
    name: str = Field(description="what the case shows")
    input: list[InputStep] = Field(default_factory=list, description="steps, in order")
    expect: list[ExpectedAlert] = Field(default_factory=list, description="alerts in order; [] means no alert")

    __test__ = False  # not a pytest test class


class RuleBase(Strict):
    id: str = Field(description="stable unique id: lower-case letters, digits, '_', '.', '-'")
    title: str = Field(min_length=1, description="short name shown in alerts")
    description: str = Field(default="", description="why the rule exists")
    severity: Severity = Field(description="info | warning | critical")
    owner: str = Field(min_length=1, description="owning team, used for routing")
    tags: list[str] = Field(default_factory=list, description="framework references and topics, e.g. pci-dss:10.2.1, soc2:CC7.2")
    kind: str = Field(description="rule kind; selects the evaluator")
    source: Source = Field(description="which stream the rule reads")
    enabled: bool = Field(default=True, description="disabled rules are linted and tested but not evaluated")
    filter: str | None = Field(default=None, description="expression selecting the items the rule sees")
    group_by: list[str] = Field(default_factory=list, description="field paths; state and alerts are per distinct group")
    labels: dict[str, str] = Field(default_factory=dict, description="static labels added to every alert")
    annotations: Annotations = Field(description="summary/description templates and runbook link")
    tests: list[TestCase] = Field(default_factory=list, description="test cases run by `sluice rules test`")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("id must be lower-case letters, digits, '_', '.', '-' (at most 128)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not _TAG.match(tag):
                raise ValueError(f"tag {tag!r} must look like 'topic' or 'framework:control', e.g. pci-dss:10.2.1")
        return value


class ThresholdRule(RuleBase):
    kind: Literal["threshold"]
    source: Literal["rollups", "metrics", "logs", "security", "signals"]
    condition: str = Field(description="expression over the current item; sum_over/avg_over/... aggregate over the window")
    value: str | None = Field(default=None, description="expression reported as the alert value (default: left side of the first comparison)")
    window: Duration | None = Field(default=None, description="default window of the *_over() aggregates")
    for_: Duration = Field(default=0.0, alias="for", description="how long the condition must hold before firing")


class RatioRule(RuleBase):
    kind: Literal["ratio"]
    source: Literal["rollups", "metrics", "logs", "security", "signals"]
    numerator: str = Field(description="expression summed over the window, e.g. failures")
    denominator: str = Field(description="expression summed over the window, e.g. count")
    window: Duration = Field(description="window of `ratio`")
    windows: dict[str, Duration] = Field(default_factory=dict, description="extra named windows: ratio_<name> in the condition")
    min_denominator: float = Field(default=1.0, ge=0, description="below this denominator the ratio is null (no alert)")
    condition: str = Field(description="expression over ratio, numerator, denominator, ratio_<name>...")
    for_: Duration = Field(default=0.0, alias="for", description="how long the condition must hold before firing")

    @field_validator("windows")
    @classmethod
    def _names(cls, value: dict[str, float]) -> dict[str, float]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_]{0,31}$", name):
                raise ValueError(f"window name {name!r} must be a lower-case identifier")
        return value


class AbsenceRule(RuleBase):
    kind: Literal["absence"]
    window: Duration = Field(gt=0, description="alert when a group has sent nothing for this long")
    expect: list[dict[str, str]] = Field(default_factory=list, description="groups that must exist from start-up (keys = group_by paths)")


class AnomalyRule(RuleBase):
    kind: Literal["anomaly"]
    source: Literal["rollups", "metrics"]
    value: str = Field(description="expression giving the observed number per item, e.g. count")
    method: Literal["ewma", "robust", "seasonal"] = Field(description="baseline: EWMA, median/MAD, or same slot of the season")
    combine: Literal["sum", "max", "min", "avg"] = Field(default="sum", description="how the group's series combine within one rollup window")
    threshold: float = Field(default=4.0, gt=0, description="|z-score| at which a point is anomalous")
    direction: Direction = Field(default="up", description="which deviations count: up, down or both")
    min_samples: int = Field(default=30, ge=2, description="warm-up: no alert before the baseline has this many points")
    min_deviation: float = Field(default=0.0, ge=0, description="also require |value - baseline| >= this (absolute floor)")
    alpha: float = Field(default=0.1, gt=0, lt=1, description="ewma: smoothing factor")
    history: int = Field(default=60, ge=5, le=10000, description="robust: number of recent points in the baseline")
    season: Duration = Field(default=604800.0, gt=0, description="seasonal: period, default one week")
    bucket: Duration = Field(default=3600.0, gt=0, description="seasonal: slot width, default one hour (hour of week)")
    min_seasons: int = Field(default=2, ge=1, description="seasonal: completed seasons needed before alerting")
    for_: Duration = Field(default=0.0, alias="for", description="how long the anomaly must persist before firing")


MatchSpec = dict[str, Any] | list[dict[str, Any]]


class PatternRule(RuleBase):
    kind: Literal["pattern"]
    source: Literal["logs", "metrics", "security", "signals", "deployments"]
    match: MatchSpec = Field(default_factory=dict, description="field|modifier: value(s); a list of maps is OR")
    throttle: Duration = Field(default=0.0, description="per group, at most one alert per this long")


class SequenceStep(Strict):
    match: MatchSpec = Field(default_factory=dict, description="field matchers of this step")
    filter: str | None = Field(default=None, description="expression, ANDed with match")
    count: int = Field(default=1, ge=1, le=10000, description="events needed (first step)")
    within: Duration = Field(gt=0, description="first: the count must occur within this; then: time allowed after the first step")


class SequenceRule(RuleBase):
    kind: Literal["sequence"]
    source: Literal["logs", "security", "signals"]
    first: SequenceStep = Field(description="N events of A by group within T")
    then: SequenceStep | None = Field(default=None, description="optional: followed by B within T")
    throttle: Duration = Field(default=0.0, description="per group, at most one alert per this long")


class ChangeWindow(Strict):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], description="days the window opens"
    )
    start: str = Field(description="opening time HH:MM")
    end: str = Field(description="closing time HH:MM; before start means it closes the next day")
    tz: str = Field(default="UTC", description="IANA time zone of start/end")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", str(value)):
            raise ValueError(f"{value!r} is not a time HH:MM (00:00..23:59)")
        return value


class ComplianceRule(PatternRule):
    kind: Literal["compliance"]  # type: ignore[assignment]
    controls: list[str] = Field(min_length=1, description="controls this rule evidences, e.g. pci-dss:10.2.1")
    change_windows: list[ChangeWindow] = Field(default_factory=list, description="violation only outside all of these")
    allow: dict[str, list[str]] = Field(default_factory=dict, description="field -> allowed values; violation only when not allowed")


class CanaryMetric(Strict):
    name: str = Field(description="metric name in verdicts")
    filter: str = Field(description="expression selecting this metric's samples")
    value: str = Field(default="value", description="expression giving the sample value")
    bad: Literal["increase", "decrease", "either"] = Field(default="increase", description="which change in the canary is bad")
    effect: float = Field(default=0.3, gt=0, le=1, description="|Cliff's delta| at or above which a difference matters")
    critical: bool = Field(default=False, description="a fail on this metric fails the whole canary")


class CanaryRule(RuleBase):
    kind: Literal["canary"]
    source: Literal["deployments"]
    samples: Literal["metrics", "rollups"] = Field(default="metrics", description="stream carrying canary/baseline samples")
    group_field: str = Field(default="labels.deployment_group", description="path of the sample field naming its group")
    metrics: list[CanaryMetric] = Field(min_length=1, description="metrics compared between canary and baseline")
    analysis: Duration = Field(default=600.0, gt=0, description="how long samples are collected after the deployment")
    min_samples: int = Field(default=20, ge=3, description="per group and metric; fewer gives verdict nodata")
    max_samples: int = Field(default=5000, ge=10, le=100000, description="samples kept per group and metric")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="significance level of the Mann-Whitney U test")
    pass_score: float = Field(default=90.0, ge=0, le=100, description="score at or above which the canary passes")
    marginal_score: float = Field(default=50.0, ge=0, le=100, description="score at or above which it is marginal")
    alert_on: list[Literal["fail", "marginal", "inconclusive"]] = Field(default_factory=lambda: ["fail"], description="verdicts that raise an alert")


def validate_rule(model: type[RuleBase], doc: Located) -> tuple[RuleBase | None, list[Problem]]:
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, [_problem(doc, error) for error in exc.errors()]


def _problem(doc: Located, error: Any) -> Problem:
    path = tuple("for" if part == "for_" else part for part in error["loc"])
    kind = error["type"]
    shown = ".".join(str(p) for p in path) or "rule"
    if kind == "extra_forbidden":
        return Problem(doc.loc(path, at_key=True), f"unknown key {path[-1]!r}")
    if kind == "missing":
        return Problem(doc.loc(path[:-1], at_key=True), f"missing required key {path[-1]!r}")
    message = error["msg"].removeprefix("Value error, ")
    return Problem(doc.loc(path), f"{shown}: {message}")
