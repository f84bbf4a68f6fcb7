"""What ingest forwards beyond the normalized topics: closed-window partial rollups and
the per-event items some rule wants (so the detect stage never reads full streams).

`DetectFilter.wanted` runs over every event of every batch. Its loop is in C
(`_routing.c`, built when a compiler is at hand, off with SLUICE_PURE_PYTHON=1): the
rule guards tested there (streams/detect/guards.py: necessary conditions), then the
rule's sufficient conditions (streams/detect/sufficient.py), and each rule's Python
`accepts` called only for the events that pass the one and meet none of the other.
The Python loop below is the reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from streams.detect.evaluators.base import KIND_TO_SOURCE, CompiledRule, source_of
from streams.detect.guards import passes, rule_guards
from streams.detect.reload import RuleSet
from streams.detect.sufficient import holds, sufficient
from streams.ingest import accel

_routing = accel.load("_routing")


class DetectFilter:
    """Passes an event or a rollup partial on when any rule accepts it (partials only of
    the one size rules read, `rollup_window_s`). `everything`: no pre-filter, pass all
    of them. The rule set reloads with the files, like the detect stage's."""

    SOURCES = ("logs", "metrics", "security", "rollups")

    def __init__(self, rules_path: Path | str, rollup_window_s: int = 60, everything: bool = False,
                 accelerate: bool | None = None):
        self.rollup_window_s = rollup_window_s
        self.everything = everything
        if accelerate is None:
            accelerate = _routing is not None and accel.wanted()
        self._fast = _routing.wanted if accelerate else None
        self.ruleset = RuleSet(rules_path)
        self._by_source: dict[str, list[CompiledRule]] = {}
        self._refresh()

    def _refresh(self) -> None:
        by_source: dict[str, list[tuple[list, list, CompiledRule]]] = {s: [] for s in self.SOURCES}
        for rule in self.ruleset.rules:
            for source in rule.sources:
                if source in by_source:
                    by_source[source].append((rule_guards(rule, source), sufficient(rule, source), rule))
        self._by_source = by_source

    def reload_if_changed(self) -> None:
        if self.ruleset.reload_if_changed():
            self._refresh()

    def wanted(self, events: Iterable[dict]) -> list[dict]:
        if self.everything:
            return list(events)
        if self._fast is not None:
            return self._fast(self._by_source, events, KIND_TO_SOURCE, source_of, passes)
        return [ev for ev in events if self._wants(ev)]

    def wanted_positions(self, events: list[dict]) -> list[int]:
        """The positions in `events` of those `wanted` returns (so that the caller can
        find what it keeps beside each event without a lookup over all of them)."""
        if self.everything:
            return list(range(len(events)))
        if self._fast is not None:
            return self._fast(self._by_source, events, KIND_TO_SOURCE, source_of, passes, True)
        return [i for i, ev in enumerate(events) if self._wants(ev)]

    def _wants(self, ev: dict) -> bool:
        for guards, sure, rule in self._by_source.get(source_of(ev) or "", ()):
            if (not guards or passes(guards, ev)) and (holds(sure, ev) or rule.accepts(ev)):
                return True
        return False

    def wanted_rollups(self, partials: Iterable[dict]) -> list[dict]:
        size = self.rollup_window_s
        return self.wanted(p for p in partials if p.get("window_s") == size)
