"""absence: a group went silent (heartbeat / dead-man's switch).

Each accepted item marks its group as seen at `now` (arrival time, not event
time: a consumer catching up after downtime must not page for data that is
merely late). `tick(state, now)` fires once the group has been silent for
`window`, and the next item resolves it. Groups listed in `expect:` get state
before any data arrives (the engine seeds them, `armed_at` = first tick), so a
job that never ran since start-up is still caught.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect.evaluators.base import Alert, CompileContext, CompiledRule, State
from streams.detect.model import AbsenceRule


class AbsenceEvaluator(CompiledRule):
    kind = "absence"
    stateful = True

    def __init__(self, model: AbsenceRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.window = model.window
        paths = {text for text, _ in self.group_paths}
        for index, group in enumerate(model.expect):
            if set(group) != paths:
                ctx.problem(("expect", index), f"expected group keys {sorted(group)} must be exactly group_by {sorted(paths)}")

    def seed_groups(self) -> list[dict[str, str]]:
        return [dict(group) for group in self.model.expect]

    def initial_state(self, group: Mapping[str, str], now: float) -> State:
        return {"group": dict(group), "armed_at": now, "last_seen": None, "firing": False}

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        previous = state.get("last_seen")
        state["last_seen"] = now
        if not state.get("firing"):
            return []
        state["firing"] = False
        silent = now - (previous if previous is not None else state.get("armed_at", now))
        return [self.alert("resolved", state["group"], at=now, starts_at=state.pop("starts_at", now), ends_at=now,
                           value=silent, values={"silent_for": silent}, event=item)]

    def on_tick(self, state: State, now: float) -> list[Alert]:
        reference = state.get("last_seen")
        if reference is None:
            reference = state.get("armed_at", now)
        silent = now - reference
        if state.get("firing") or silent < self.window:
            return []
        state["firing"] = True
        state["starts_at"] = now
        return [self.alert("firing", state["group"], at=now, starts_at=now, value=silent,
                           values={"silent_for": silent, "last_seen": state.get("last_seen")})]
