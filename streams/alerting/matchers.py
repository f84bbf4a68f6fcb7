"""Label matchers shared by silences, routes and inhibition rules.

Syntax (Alertmanager's): `team=payments`, `team!=sre`, `team=~"payments-.*"`,
`rule_id!~"sre\\..*"`. A regex matches the whole label value (it is anchored)
and must pass streams/detect/regex_safety, because silences come from people at
a terminal and routes from config, and one catastrophic pattern would stall the
alert manager for every alert. A missing label matches as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.detect.regex_safety import check_regex

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.S)
# Label values longer than this are searched only in their first part (regex_safety's input cap).
MAX_VALUE = 4096


class MatcherError(ValueError):
    """A matcher that does not parse, or whose regex is unsafe."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self._regex is not None:
            found = self._regex.fullmatch(actual[:MAX_VALUE]) is not None
            return found if self.op == "=~" else not found
        return (actual == self.value) if self.op == "=" else (actual != self.value)


def parse_matcher(text: str) -> Matcher:
    """`label op value`; the value may be double-quoted (needed for spaces, commas, quotes)."""
    if not isinstance(text, str):
        raise MatcherError(f"a matcher must be a string like team=payments, got {text!r}")
    found = _MATCHER.match(text)
    if not found:
        raise MatcherError(f"invalid matcher {text!r}: use label=value, label!=value, label=~regex or label!~regex")
    label, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        # Only \" is an escape: regexes keep their backslashes as typed (team=~"a\.b").
        value = value[1:-1].replace('\\"', '"')
    regex = None
    if op in ("=~", "!~"):
        anchored = f"^(?:{value})$"
        problems = check_regex(anchored)
        if problems:
            raise MatcherError(f"matcher {text!r}: " + "; ".join(problems))
        regex = re.compile(anchored)
    return Matcher(label, op, value, regex)


def parse_matchers(texts: list[str]) -> list[Matcher]:
    return [parse_matcher(t) for t in texts]


def equality_matchers(match: Mapping[str, str]) -> list[Matcher]:
    """`{label: value}` (the `*_match` maps of inhibition rules) as `=` matchers."""
    return [Matcher(str(k), "=", str(v)) for k, v in match.items()]


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
