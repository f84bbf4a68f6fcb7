"""Inhibition: a firing source alert mutes target alerts that share its `equal` labels.

Unlike Alertmanager, an `equal` label missing (or empty) on either side does not
count as equal: otherwise a provider outage would mute every warning that has no
provider label at all. An alert never inhibits itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.alerting.config import InhibitRule
from streams.alerting.matchers import Matcher, equality_matchers, matches_all, parse_matchers


@dataclass(frozen=True)
class Inhibition:
    rule: str
    source_fingerprint: str
    source_rule_id: str


class _Compiled:
    def __init__(self, rule: InhibitRule, index: int):
        self.name = rule.name or f"inhibit_rules[{index}]"
        self.source: list[Matcher] = equality_matchers(rule.source_match) + parse_matchers(rule.source_matchers)
        self.target: list[Matcher] = equality_matchers(rule.target_match) + parse_matchers(rule.target_matchers)
        self.equal = tuple(rule.equal)

    def same(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        return all(source.get(name) and source.get(name) == target.get(name) for name in self.equal)


class Inhibitor:
    def __init__(self, rules: list[InhibitRule]):
        self._rules = [_Compiled(rule, i) for i, rule in enumerate(rules)]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def inhibited_by(self, fingerprint: str, labels: Mapping[str, str],
                     firing: list[tuple[str, Mapping[str, str]]]) -> Inhibition | None:
        """The first firing alert (fingerprint, match labels) that mutes this one, if any."""
        for rule in self._rules:
            if not matches_all(rule.target, labels):
                continue
            for source_fp, source_labels in firing:
                if source_fp != fingerprint and matches_all(rule.source, source_labels) \
                        and rule.same(source_labels, labels):
                    return Inhibition(rule.name, source_fp, source_labels.get("rule_id", ""))
        return None
