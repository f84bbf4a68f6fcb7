"""The explicit registry of rule kinds: `kind:` in a rule file -> model + evaluator.

Adding a kind means adding a line here (and a model and an evaluator): there is
no import-time magic, so `sluice rules lint` and the detect app see exactly the
same kinds. An unknown kind is an error naming the key and the file:line:col.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.detect.evaluators.absence import AbsenceEvaluator
from streams.detect.evaluators.anomaly import AnomalyEvaluator
from streams.detect.evaluators.base import CompiledRule
from streams.detect.evaluators.canary import CanaryEvaluator
from streams.detect.evaluators.pattern import ComplianceEvaluator, PatternEvaluator
from streams.detect.evaluators.sequence import SequenceEvaluator
from streams.detect.evaluators.threshold import RatioEvaluator, ThresholdEvaluator
from streams.detect.model import (
    AbsenceRule,
    AnomalyRule,
    CanaryRule,
    ComplianceRule,
    PatternRule,
    RatioRule,
    RuleBase,
    SequenceRule,
    ThresholdRule,
)


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[RuleBase]
    evaluator: type[CompiledRule]
    summary: str


KINDS: dict[str, Kind] = {}


def register(name: str, model: type[RuleBase], evaluator: type[CompiledRule], summary: str) -> None:
    if name in KINDS:
        raise ValueError(f"rule kind {name!r} is already registered")
    KINDS[name] = Kind(name, model, evaluator, summary)


def lookup(name: object) -> Kind | None:
    return KINDS.get(name) if isinstance(name, str) else None


register("threshold", ThresholdRule, ThresholdEvaluator, "condition over rollups/events, with window aggregates")
register("ratio", RatioRule, RatioEvaluator, "sum(numerator)/sum(denominator) over one or more windows")
register("absence", AbsenceRule, AbsenceEvaluator, "a group sent nothing for a while (heartbeat)")
register("anomaly", AnomalyRule, AnomalyEvaluator, "z-score against an EWMA, median/MAD or seasonal baseline")
register("pattern", PatternRule, PatternEvaluator, "single-event match, Sigma-style modifiers")
register("sequence", SequenceRule, SequenceEvaluator, "N events of A within T, optionally followed by B")
register("compliance", ComplianceRule, ComplianceEvaluator, "pattern with controls, change windows and allow-lists")
register("canary", CanaryRule, CanaryEvaluator, "canary vs baseline metrics after a deployment")
