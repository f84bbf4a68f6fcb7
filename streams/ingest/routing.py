"""What ingest forwards beyond the normalized topics: closed-window partial rollups and
the per-event items some rule wants (so the detect stage never reads full streams)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from streams.detect.evaluators.base import CompiledRule, source_of
from streams.detect.guards import passes, rule_guards
from streams.detect.reload import RuleSet


class DetectFilter:
    """Passes an event or a rollup partial on when any rule accepts it (partials only of
    the one size rules read, `rollup_window_s`). `everything`: no pre-filter, pass all
    of them. The rule set reloads with the files, like the detect stage's."""

    SOURCES = ("logs", "metrics", "security", "rollups")

    def __init__(self, rules_path: Path | str, rollup_window_s: int = 60, everything: bool = False):
        self.rollup_window_s = rollup_window_s
        self.everything = everything
        self.ruleset = RuleSet(rules_path)
        self._by_source: dict[str, list[CompiledRule]] = {}
        self._refresh()

    def _refresh(self) -> None:
        by_source: dict[str, list[tuple[list, CompiledRule]]] = {s: [] for s in self.SOURCES}
        for rule in self.ruleset.rules:
            for source in rule.sources:
                if source in by_source:
                    by_source[source].append((rule_guards(rule), rule))
        self._by_source = by_source

    def reload_if_changed(self) -> None:
        if self.ruleset.reload_if_changed():
            self._refresh()

    def wanted(self, events: Iterable[dict]) -> list[dict]:
        if self.everything:
            return list(events)
        by_source = self._by_source
        out = []
        for ev in events:
            rules = by_source.get(source_of(ev) or "")
            if rules:
                for guards, rule in rules:
                    if (not guards or passes(guards, ev)) and rule.accepts(ev):
                        out.append(ev)
                        break
        return out

    def wanted_rollups(self, partials: Iterable[dict]) -> list[dict]:
        size = self.rollup_window_s
        return self.wanted(p for p in partials if p.get("window_s") == size)
