"""sequence: N events of A by group within T, optionally followed by B.

    first: {match: ..., count: 10, within: 5m}   # e.g. failed logins by source_ip
    then:  {match: ..., within: 10m}             # e.g. then a successful login

Without `then`, the alert fires when the count is reached (brute force). With
`then`, reaching the count arms the group and a B event within `then.within`
fires (success after failures); after firing, the group starts over. Times are
event times; state keeps at most `count` timestamps and ids per group, so an
attacker cannot grow it without bound.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect.evaluators.base import (
    ACCEPT,
    INERT,
    REJECT,
    Alert,
    CompileContext,
    CompiledRule,
    State,
    item_time,
)
from streams.detect.evaluators.matchers import Selection, compile_selection
from streams.detect.expr import Expr
from streams.detect.model import SequenceRule, SequenceStep

MAX_EVIDENCE = 20


class _Step:
    def __init__(self, step: SequenceStep, ctx: CompileContext, path: tuple):
        self.step = step
        self.selection: Selection = compile_selection(step.match, ctx, path + ("match",))
        self.filter: Expr | None = ctx.expr(step.filter, path + ("filter",)) if step.filter is not None else None
        if not step.match and step.filter is None:
            ctx.problem(path, "a step needs match: or filter:, or it would match every event")

    def test(self, item: Mapping) -> bool:
        return self.selection.test(item) and (self.filter is None or self.filter.test(item))


class SequenceEvaluator(CompiledRule):
    kind = "sequence"

    def __init__(self, model: SequenceRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.first = _Step(model.first, ctx, ("first",))
        self.then = _Step(model.then, ctx, ("then",)) if model.then is not None else None
        if model.then is not None and model.then.count != 1:
            ctx.problem(("then", "count"), "then: matches a single event; count is only for first:")
        self.throttle = model.throttle

    def idle_horizon(self) -> float | None:
        steps = [self.first.step.within] + ([self.then.step.within] if self.then is not None else [])
        return max(*steps, self.throttle or 0.0)

    def accepts(self, item: Mapping) -> bool:
        if not super().accepts(item):
            return False
        return self.first.test(item) or (self.then is not None and self.then.test(item))

    def admit(self, item: Mapping) -> int:
        if not super().accepts(item):
            return REJECT
        if self.first.test(item):
            return ACCEPT
        # Without state nothing is armed, and only a `first` event starts a count: a
        # success login from an address with no failures leaves nothing behind.
        return INERT if self.then is not None and self.then.test(item) else REJECT

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        t = item_time(item)
        event_id = item.get("event_id") if isinstance(item.get("event_id"), str) else ""
        if self.then is not None and state.get("armed_at") is not None and self.then.test(item):
            if 0 <= t - state["armed_at"] <= self.then.step.within:
                return self._fire(state, t, item, event_id)
            state["armed_at"] = None
        if not self.first.test(item):
            return []
        first = self.first.step
        hits = sorted(state.get("hits", []) + [[t, event_id]], key=lambda h: h[0])
        newest = hits[-1][0]
        state["hits"] = [h for h in hits if newest - h[0] < first.within][-first.count :]
        if len(state["hits"]) < first.count:
            return []
        if self.then is None:
            return self._fire(state, t, item, event_id)
        state["armed_at"] = t
        return []

    def _fire(self, state: State, t: float, item: Mapping, event_id: str) -> list[Alert]:
        hits = state.get("hits", [])
        ids = [h[1] for h in hits if h[1]][-MAX_EVIDENCE:]
        if self.then is not None and event_id:
            ids.append(event_id)
        starts_at = hits[0][0] if hits else t
        state["hits"], state["armed_at"] = [], None
        last = state.get("last_alert")
        if self.throttle and last is not None and t - last < self.throttle:
            return []
        state["last_alert"] = t
        values = {"count": len(hits), "first_at": starts_at, "span": t - starts_at}
        return [self.alert("firing", state["group"], at=t, starts_at=starts_at, value=len(hits), values=values,
                           event=item, event_ids=ids)]
