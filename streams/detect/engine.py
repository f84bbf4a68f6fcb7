"""Reference driver: routes items to rules and keeps per-(rule, group) state.

This is the whole runtime contract in a few lines, used by `sluice rules test`
and usable as-is by the detect app: pass a faust Table (or any MutableMapping
of str -> JSON dict) as `states`; every update is a plain assignment
`states[key] = new_state`, which is what a changelog-backed table needs.

A rule that raises on an item (a bug, never bad data: evaluators treat bad data
as no match) is counted in `errors[rule_id]` and skipped, so one rule cannot
stop the others.

Most rules of an item's source cannot accept it (a login is not a sudo): their guards
(streams/detect/dispatch.py) skip them before their filter and match are interpreted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, MutableMapping

from streams.detect.dispatch import Dispatch
from streams.detect.evaluators.base import INERT, REJECT, Alert, CompiledRule, source_of
from streams.detect.guards import Guard, passes_any_shape, rule_guards

TOUCHED = "_touched"  # wall-clock time the engine last updated a group's state
IDLE_MARGIN_S = 60.0


class Engine:
    def __init__(self, rules: Iterable[CompiledRule], states: MutableMapping[str, dict] | None = None,
                 strict: bool = False):
        self.strict = strict  # re-raise rule errors (tests), instead of counting them
        self.rules = {rule.id: rule for rule in rules}
        self.states: MutableMapping[str, dict] = states if states is not None else {}
        self.errors: Counter[str] = Counter()
        by_source: dict[str, list[tuple[list[Guard], CompiledRule]]] = defaultdict(list)
        for rule in self.rules.values():
            for source in rule.sources:
                by_source[source].append((rule_guards(rule, source), rule))
        self._by_source = {source: Dispatch(rules) for source, rules in by_source.items()}

    def process(self, item: Mapping, now: float) -> list[Alert]:
        """Evaluate one item against every rule that accepts it."""
        alerts: list[Alert] = []
        dispatch = self._by_source.get(source_of(item) or "")
        if dispatch is None:
            return alerts
        states = self.states
        for guards, rule in dispatch.candidates(item):
            try:
                if guards and not passes_any_shape(guards, item):
                    continue
                verdict = rule.admit(item)
                if verdict == REJECT:
                    continue
                key = rule.key_of(item)
                previous = states.get(key)
                if previous is None and verdict == INERT:
                    continue
                state, produced = rule.evaluate(previous, item, now)
                if not produced and state == (previous if previous is not None
                                              else rule.initial_state(rule.group_of(item), now)):
                    # Nothing to remember (a success login from an address with no failures):
                    # no write, so no changelog record and no state for a group that never mattered.
                    continue
                if rule.idle_horizon() is not None:
                    state[TOUCHED] = now
                states[key] = state
            except Exception:  # noqa: BLE001 - isolate a faulty rule, keep evaluating the rest
                if self.strict:
                    raise
                self.errors[rule.id] += 1
                continue
            alerts.extend(produced)
        return alerts

    def tick(self, now: float) -> list[Alert]:
        """Timer: absence checks, canary deadlines, stale alerts. Call every few seconds."""
        for rule in self.rules.values():
            for group in rule.seed_groups():
                key = rule.state_key(group)
                if key not in self.states:
                    self.states[key] = rule.initial_state(group, now)
        alerts: list[Alert] = []
        # Tens of thousands of groups (a source address each) may hold state, most of them
        # of rules whose tick does nothing: those are only checked for idleness.
        rules = {rule_id: (rule, rule.idle_horizon(), rule.ticks) for rule_id, rule in self.rules.items()}
        for key, previous in list(self.states.items()):
            entry = rules.get(key.partition("/")[0])
            if entry is None:
                continue
            rule, horizon, ticks = entry
            if horizon is not None:
                touched = (previous or {}).get(TOUCHED)
                if touched is not None and now - touched > horizon + IDLE_MARGIN_S:
                    # Groups of high-cardinality keys (source IPs, actors) come and go:
                    # without this, state grows with every distinct key ever seen.
                    del self.states[key]
                    continue
            if not ticks:
                continue
            try:
                state, produced = rule.tick(previous, now)
            except Exception:  # noqa: BLE001 - same isolation as process()
                if self.strict:
                    raise
                self.errors[rule.id] += 1
                continue
            if produced or state != previous:
                self.states[key] = state
            alerts.extend(produced)
        return alerts
