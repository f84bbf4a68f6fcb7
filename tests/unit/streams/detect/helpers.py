"""Compile rules from inline YAML for evaluator tests."""

from __future__ import annotations

import textwrap

from streams.detect.evaluators.base import CompiledRule
from streams.detect.loader import compile_doc
from streams.detect.yamlloc import load_text

HEADER = """\
id: t.rule
title: test rule
severity: warning
owner: team
annotations: {summary: "{{ value }}"}
"""


def compile_rule(body: str) -> CompiledRule:
    (doc,), problems = load_text(HEADER + textwrap.dedent(body), "t.yaml")
    loaded, compile_problems = compile_doc(doc)
    errors = [str(p) for p in problems + compile_problems if p.severity == "error"]
    assert not errors, errors
    assert loaded is not None
    return loaded.rule


def compile_problems(body: str) -> list[str]:
    (doc,), problems = load_text(HEADER + textwrap.dedent(body), "t.yaml")
    _, compile_problems = compile_doc(doc)
    return [f"{p.loc.line}:{p.loc.col}: {p.message}" for p in problems + compile_problems]


def run(rule: CompiledRule, items: list[dict], state: dict | None = None) -> tuple[dict | None, list[dict]]:
    """Feed items (now = their event time) through one group's state; return it and all alerts."""
    alerts: list[dict] = []
    for item in items:
        if "tick" in item:
            state, produced = rule.tick(state, item["tick"])
        else:
            assert rule.accepts(item), item
            now = item.get("now", item.get("ts", item.get("window_start", 0) + item.get("window_s", 0)))
            state, produced = rule.evaluate(state, item, now)
        alerts.extend(produced)
    return state, alerts


def rollup(minute: int, **fields) -> dict:
    return {"family": fields.pop("family", "log"), "window_start": 60.0 * minute, "window_s": 60,
            "series": fields.pop("series", {"service": "api"}), **fields}
