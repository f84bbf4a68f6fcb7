"""`sluice rules test`: run the test cases kept inside each rule file.

Cases live under `tests:` in the rule's own YAML, so a rule and the evidence
that it works are reviewed and moved together:

    tests:
      - name: fires when 8% of payments fail
        input:
          - rollup: {family: payment, series: {provider: adyen}, count: 100, failures: 8}
            at: 0
            repeat: 5
            every: 1m
          - tick: 10m
        expect:
          - {status: firing, group: {series.provider: adyen}, values: {ratio: 0.08}}

Times are seconds (or durations, "5m") after the test epoch, 2024-01-01T00:00Z,
a Monday (so "5d23h" is Saturday 23:00 UTC), or absolute ISO-8601 times.
Events are completed with defaults and validated against the canonical
models in `schemas.events`, so a case cannot use a shape ingest never emits.
Each item is evaluated with `now` = its event time; `tick` runs the timer.
`expect` lists the alerts in order (`[]`: none); each listed field must match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas.events import EVENT_MODELS
from streams.detect.durations import format_duration, parse_duration
from streams.detect.engine import Engine
from streams.detect.evaluators.base import Alert, item_time
from streams.detect.loader import LoadedRule, load_path
from streams.detect.model import ExpectedAlert, InputStep, TestCase
from streams.detect.yamlloc import Loc, Problem

EPOCH = 1704067200.0  # 2024-01-01T00:00:00Z, a Monday


class CaseError(ValueError):
    """The case itself is malformed (not a rule failure)."""


@dataclass
class CaseResult:
    rule_id: str
    name: str
    loc: Loc
    passed: bool
    message: str = ""


def to_time(value: object) -> float:
    if isinstance(value, str):
        text = value.strip()
        if text[:4].isdigit() and "-" in text[:5]:
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise CaseError(f"invalid time {value!r}: use seconds, a duration (5m) or ISO-8601") from None
    try:
        return EPOCH + parse_duration(value)
    except ValueError as exc:
        raise CaseError(str(exc)) from None


def _set(item: dict, path: str, value: object) -> None:
    head, _, rest = path.partition(".")
    if rest and isinstance(item.get(head), dict):
        item[head] = {**item[head], rest: value}
    elif rest:
        item[head] = {rest: value}
    else:
        item[head] = value


_DEFAULT_TIME_FIELD = {"rollup": "window_start"}


def build_items(step: InputStep, index: int, clock: float) -> list[dict]:
    """The items of a step; `repeat` emits all of a step's items at each repetition."""
    kind = step.item_kind
    given = getattr(step, kind)
    templates = [dict(t) for t in (given if isinstance(given, list) else [given])]
    time_field = _DEFAULT_TIME_FIELD.get(kind, "ts")
    items = []
    for position, template in enumerate(templates):
        if step.at is not None:
            start = to_time(step.at)
        elif time_field in template:
            start = to_time(template[time_field])
        else:
            start = clock
        template["_start"] = start
        templates[position] = template
    for n in range(step.repeat):
        for position, template in enumerate(templates):
            item = {k: v for k, v in template.items() if k != "_start"}
            for path, values in step.vary.items():
                if not values:
                    raise CaseError(f"vary.{path} is empty")
                _set(item, path, values[n % len(values)])
            item[time_field] = template["_start"] + n * step.every
            items.append(_complete(kind, item, f"s{index}-{n}-{position}"))
    return items


def _complete(kind: str, item: dict, ident: str) -> dict:
    if kind == "rollup":
        item.setdefault("window_s", 60)
        item.setdefault("series", {})
        return item
    item.setdefault("event_id", f"test-{ident}")
    item["kind"] = kind
    if kind in EVENT_MODELS:
        item.setdefault("observed_ts", item["ts"])
        try:
            return EVENT_MODELS[kind].model_validate(item).model_dump()
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CaseError(f"{kind} event is not canonical: {where}: {first['msg']}") from None
    item.setdefault("tenant", "default")
    item.setdefault("service", "unknown")
    item.setdefault("attributes", {})
    if kind == "deployment":
        item.setdefault("canary_group", "canary")
        item.setdefault("baseline_group", "baseline")
    return item


def run_case(loaded: LoadedRule, case: TestCase, states: MutableMapping[str, dict] | None = None) -> list[Alert]:
    """Alerts the case's steps produce; `states` lets a test swap in another state store."""
    engine = Engine([loaded.rule], states=states, strict=True)
    alerts: list[Alert] = []
    clock = EPOCH
    for index, step in enumerate(case.input):
        if step.tick is not None:
            clock = to_time(step.tick)
            alerts.extend(engine.tick(clock))
            continue
        for item in build_items(step, index, clock):
            now = item_time(item)
            clock = max(clock, now)
            alerts.extend(engine.process(item, now))
    return alerts


def _same(want: object, got: object) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want == got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(want, got, rel_tol=1e-3, abs_tol=1e-9)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_same(w, g) for w, g in zip(want, got, strict=True))
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        return all(k in got and _same(v, got[k]) for k, v in want.items())
    if want is None or got is None:
        return want is got
    return str(want) == str(got)


def mismatch(want: ExpectedAlert, got: Alert) -> str:
    """Empty when `got` satisfies `want`, else what differs."""
    diffs = []
    if want.status != got["status"]:
        diffs.append(f"status {got['status']!r}, expected {want.status!r}")
    if want.group is not None and not _same(want.group, got["group"]):
        diffs.append(f"group {got['group']}, expected {want.group}")
    for name in ("at", "starts_at"):
        expected = getattr(want, name)
        actual = got["ts" if name == "at" else name]
        # Times are compared to the millisecond: a relative tolerance on epoch seconds would be days.
        if expected is not None and not (isinstance(actual, int | float) and abs(to_time(expected) - actual) < 1e-3):
            diffs.append(f"{name} {_rel(actual)}, expected {_rel(to_time(expected))}")
    if want.severity is not None and want.severity != got["severity"]:
        diffs.append(f"severity {got['severity']!r}, expected {want.severity!r}")
    summary = got["annotations"]["summary"]
    if want.summary_contains is not None and want.summary_contains not in summary:
        diffs.append(f"summary {summary!r} does not contain {want.summary_contains!r}")
    for key, value in want.values.items():
        if key not in got["values"] or not _same(value, got["values"][key]):
            diffs.append(f"values.{key} = {got['values'].get(key)!r}, expected {value!r}")
    return "; ".join(diffs)


def _rel(ts: object) -> str:
    if not isinstance(ts, int | float):
        return repr(ts)
    offset = ts - EPOCH
    return f"+{format_duration(offset)}" if offset >= 0 else f"{ts}"


def describe(alert: Alert) -> str:
    group = ", ".join(f"{k}={v}" for k, v in alert["group"].items()) or "-"
    return f"{alert['status']} [{group}] at {_rel(alert['ts'])} value={alert['value']!r}"


def check_case(loaded: LoadedRule, index: int, case: TestCase) -> CaseResult:
    loc = loaded.doc.loc(("tests", index, "name"))
    try:
        alerts = run_case(loaded, case)
    except CaseError as exc:
        return CaseResult(loaded.id, case.name, loc, False, f"bad test case: {exc}")
    problems = []
    if len(alerts) != len(case.expect):
        problems.append(f"expected {len(case.expect)} alert(s), got {len(alerts)}")
    for n, (want, got) in enumerate(zip(case.expect, alerts, strict=False)):
        diff = mismatch(want, got)
        if diff:
            problems.append(f"alert {n + 1}: {diff}")
    if problems:
        produced = "\n".join(f"      {describe(a)}" for a in alerts) or "      (none)"
        return CaseResult(loaded.id, case.name, loc, False, "; ".join(problems) + f"\n    produced:\n{produced}")
    return CaseResult(loaded.id, case.name, loc, True)


def run_tests(path: str, rule_filter: str | None = None) -> tuple[list[CaseResult], list[Problem], int]:
    """(case results, load problems, number of rules)."""
    result = load_path(path)
    outcomes = []
    rules = [r for r in result.rules if rule_filter is None or rule_filter in r.id]
    for loaded in rules:
        for index, case in enumerate(loaded.model.tests):
            outcomes.append(check_case(loaded, index, case))
    return outcomes, result.problems, len(rules)

