"""Cheap necessary conditions of a rule, so a pre-filter can skip most rules for most
events with one dict lookup instead of interpreting the rule's filter and match.

A guard is (field, allowed values, case-insensitive): an item whose top-level string
`field` is not among the values cannot be accepted by the rule. A field may also be
("attributes", key) for a rule path `attributes.<key>`: in a canonical event the
attributes are one flat map of strings, so that path reads `attributes[key]` and
nothing else, and an absent key matches no value. Guards come from
top-level `field == "x"` / `field in [...]` conjuncts of a filter, and from `match:`
selections whose every alternative requires an equality on the same field. Only
canonical string fields are used, so no type coercion of the rule language can make a
guard reject what the rule would accept; anything else yields no guard (never wrong,
just not faster).
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect import expr_ast as ast
from streams.detect.evaluators.matchers import Selection

Guard = tuple[str | tuple[str, str], frozenset, bool]

STRING_FIELDS = frozenset({"kind", "tenant", "service", "env", "host", "name", "type", "unit", "category", "action",
                           "outcome", "actor", "target", "source_ip", "severity_text", "signal"})


def _field(node: object) -> str | tuple[str, str] | None:
    if not isinstance(node, ast.Path):
        return None
    parts = node.parts
    if len(parts) == 1:  # a one-part path reads that key directly, whether or not it is marked dotted
        key = parts[0][0]
        return key if key in STRING_FIELDS else None
    if parts[0][0] == "attributes" and all(dotted and isinstance(k, str) for k, dotted in parts):
        return "attributes", ".".join(k for k, _ in parts[1:])
    return None


def _strings(nodes) -> frozenset | None:
    values = [n.value for n in nodes if isinstance(n, ast.Literal)]
    if len(values) != len(nodes) or not all(isinstance(v, str) for v in values):
        return None
    return frozenset(values)


def expression_guards(node: object) -> list[Guard]:
    if not isinstance(node, ast.Binary):
        return []
    if node.op == "and":
        return expression_guards(node.left) + expression_guards(node.right)
    if node.op == "==":
        for path, lit in ((node.left, node.right), (node.right, node.left)):
            key, values = _field(path), _strings([lit])
            if key and values:
                return [(key, values, False)]
    if node.op == "in" and isinstance(node.right, ast.ListLit):
        key, values = _field(node.left), _strings(node.right.items)
        if key and values:
            return [(key, values, False)]
    return []


def selection_guard(selection: Selection) -> Guard | None:
    """A guard every alternative of the selection implies, if there is one."""
    per_group: list[dict[str, tuple[frozenset, bool]]] = []
    for group in selection.groups:
        found = {}
        for m in group:
            key = _field(m.path)
            if key and m.op == "equals" and not m.negate and not m.all and all(isinstance(v, str) for v in m.values):
                found[key] = (frozenset(m.values), not m.cased)
        if not found:
            return None
        per_group.append(found)
    if not per_group:
        return None
    common = set(per_group[0]).intersection(*per_group[1:])
    for key in sorted(common, key=str):
        folds = {g[key][1] for g in per_group}
        if len(folds) == 1:
            return key, frozenset().union(*(g[key][0] for g in per_group)), folds.pop()
    return None


def rule_guards(rule) -> list[Guard]:
    guards: list[Guard] = []
    if getattr(rule, "filter", None) is not None:
        guards += expression_guards(rule.filter.root)
    selection = getattr(rule, "selection", None)
    if isinstance(selection, Selection):
        g = selection_guard(selection)
        if g:
            guards.append(g)
    steps = [s for s in (getattr(rule, "first", None), getattr(rule, "then", None)) if s is not None]
    if steps and getattr(rule, "then", None) is not None:
        # first OR then: a guard only when both steps require the same field
        gs = [selection_guard(s.selection) for s in steps]
        if all(gs) and len({(g[0], g[2]) for g in gs}) == 1:
            guards.append((gs[0][0], gs[0][1] | gs[1][1], gs[0][2]))
    elif steps:
        g = selection_guard(steps[0].selection)
        if g:
            guards.append(g)
    return guards


def passes(guards: list[Guard], item: Mapping) -> bool:
    """False when a guard proves the rule cannot accept `item` (a canonical event)."""
    for key, values, fold in guards:
        if type(key) is str:
            v = item.get(key)
        else:
            attributes = item.get(key[0])
            if type(attributes) is not dict:
                continue
            v = attributes.get(key[1])
            if v is None:
                return False
        if type(v) is not str:
            continue  # cannot conclude: let the rule decide
        if (v.lower() if fold else v) not in values:
            return False
    return True
