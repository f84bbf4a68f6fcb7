"""pattern and compliance: single-event detections.

pattern: an item that passes `filter` and `match` (Sigma-style, see matchers)
raises one alert; `throttle` keeps at most one alert per group per period and
counts what it suppressed (reported on the next alert).

compliance: a pattern that evidences named `controls` (pci-dss:10.2.1, ...),
with two extra conditions that pattern rules cannot express well:
- `change_windows`: a violation only outside every approved window (for
  "privileged action outside a change window");
- `allow`: field -> allowed values; a violation only when the event's value is
  not on the list (for "cardholder data read by an actor not on the allow-list").
Compliance alerts carry the controls and the evidence (event id, actor, target),
because auditors ask for them; they are not throttled unless the rule says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.detect import expr_ast as ast
from streams.detect.evaluators.base import Alert, CompileContext, CompiledRule, State, item_time
from streams.detect.evaluators.matchers import compile_selection
from streams.detect.model import ChangeWindow, ComplianceRule, PatternRule

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_EVIDENCE = ("event_id", "service", "host", "actor", "target", "action", "outcome", "source_ip", "signal", "signal_id")


class PatternEvaluator(CompiledRule):
    kind = "pattern"

    def __init__(self, model: PatternRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.selection = compile_selection(model.match, ctx, ("match",))
        self.throttle = model.throttle

    def accepts(self, item: Mapping) -> bool:
        return super().accepts(item) and self.selection.test(item)

    def violates(self, item: Mapping) -> bool:
        return True

    def idle_horizon(self) -> float | None:
        return float(self.throttle or 0.0)  # the state only remembers the last alert, for the throttle

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        if not self.violates(item):
            return []
        t = item_time(item)
        last = state.get("last_alert")
        if self.throttle and last is not None and t - last < self.throttle:
            state["suppressed"] = state.get("suppressed", 0) + 1
            return []
        state["last_alert"] = t
        values = self.evidence(item)
        values["suppressed"] = state.pop("suppressed", 0)
        event_id = item.get("event_id")
        return [self.alert("firing", state["group"], at=t, starts_at=t, values=values, event=item,
                           event_ids=[event_id] if isinstance(event_id, str) and event_id else [])]

    def evidence(self, item: Mapping) -> dict:
        return {key: item[key] for key in _EVIDENCE if item.get(key) not in (None, "")}


class ComplianceEvaluator(PatternEvaluator):
    kind = "compliance"

    def __init__(self, model: ComplianceRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.controls = list(model.controls)
        self.windows = [w for i, w in enumerate(model.change_windows) if _valid_window(w, ctx, ("change_windows", i))]
        self.allow: list[tuple[ast.Path, frozenset[str]]] = []
        for field, allowed in model.allow.items():
            path = ctx.path(field, ("allow", field))
            if path is not None:
                self.allow.append((path, frozenset(str(v) for v in allowed)))

    def violates(self, item: Mapping) -> bool:
        if self.windows and any(_inside(w, item_time(item)) for w in self.windows):
            return False
        for path, allowed in self.allow:
            if str(ast.resolve(item, path.parts) or "") in allowed:
                return False
        return True

    def evidence(self, item: Mapping) -> dict:
        values = super().evidence(item)
        values["controls"] = self.controls
        return values


def _valid_window(window: ChangeWindow, ctx: CompileContext, path: tuple) -> bool:
    try:
        ZoneInfo(window.tz)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.problem(path + ("tz",), f"unknown time zone {window.tz!r} (use an IANA name such as Europe/Paris)")
        return False
    return True


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _inside(window: ChangeWindow, ts: float) -> bool:
    """Is `ts` inside the window? A window whose end is before its start closes the next day."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(window.tz))
    start, end = _minutes(window.start), _minutes(window.end)
    minute = local.hour * 60 + local.minute
    today = _DAYS[local.weekday()]
    yesterday = _DAYS[(local - timedelta(days=1)).weekday()]
    if start < end:
        return today in window.days and start <= minute < end
    return (today in window.days and minute >= start) or (yesterday in window.days and minute < end)
