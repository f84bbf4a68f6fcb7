"""Rules and detection: the pure-Python core of the detect stage.

Rules are YAML data (`rules/`, format in rules/README.md) compiled by
`load_rules`; each compiled rule is an evaluator with a JSON-dict state per
(rule, group). The detect app (faust) wires it like `engine.Engine` does:

    rules = load_rules("rules")                      # RuleLoadError lists every problem
    for rule in rules:
        if rule.accepts(item):                       # source + filter (+ match)
            key = rule.state_key(rule.group_of(item))
            state, alerts = rule.evaluate(table.get(key), item, now)
            table[key] = state
    # and from a timer, for every key of the rule (plus rule.seed_groups()):
    state, alerts = rule.tick(table[key], now)

Nothing here does I/O beyond reading rule files, and nothing evaluates rule
text as Python: expressions, templates and regexes have their own bounded
interpreters (`expr`, `templates`, `regex_safety`).
"""

from __future__ import annotations

from streams.detect.engine import Engine
from streams.detect.evaluators.base import Alert, CompiledRule, State, source_of
from streams.detect.loader import RuleLoadError, load_path, load_rules

__all__ = ["Alert", "CompiledRule", "Engine", "RuleLoadError", "State", "evaluate", "load_path", "load_rules",
           "source_of", "tick"]


def evaluate(rule: CompiledRule, state: State | None, item: dict, now: float) -> tuple[State, list[Alert]]:
    """New state and alert candidates for one item the rule accepts (state None: first item of the group)."""
    return rule.evaluate(state, item, now)


def tick(rule: CompiledRule, state: State | None, now: float) -> tuple[State | None, list[Alert]]:
    """Timer step for one group's state: absence, canary deadlines, stale alerts."""
    return rule.tick(state, now)
