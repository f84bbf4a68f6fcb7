"""Cheap necessary conditions of a rule, so a pre-filter can skip most rules for most
events with one dict lookup instead of interpreting the rule's filter and match.

A guard is (field, allowed values, case-insensitive): an item whose top-level string
`field` is not among the values cannot be accepted by the rule. A field may also be
("attributes", key) for a rule path `attributes.<key>` (or `labels.<key>`): in a
canonical event these are flat maps of strings, so that path reads `attributes[key]`
and nothing else, and an absent key matches no value (`passes_any_shape` checks the
first for items of any shape). Guards come from
top-level `field == "x"` / `field in [...]` conjuncts of a filter, and from `match:`
selections whose every alternative requires an equality on the same field. Only
canonical string fields are used, so no type coercion of the rule language can make a
guard reject what the rule would accept; anything else yields no guard (never wrong,
just not faster).

A guard whose values are None asks for presence instead: the field's value must not be
null, absent or "" (a canary sample must name its deployment group).

Guards are per source: a canary rule's filter selects deployments, its metric filters
and group field select samples, and neither may reject the other's items.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect import expr_ast as ast
from streams.detect.evaluators.matchers import Selection

Guard = tuple[str | tuple[str, str], frozenset | None, bool]

STRING_FIELDS = frozenset({"kind", "tenant", "service", "env", "host", "name", "type", "unit", "category", "action",
                           "outcome", "actor", "target", "source_ip", "severity_text", "signal"})


# The canonical events' flat maps of strings (schemas/events.py): a path into one reads one key.
FLAT_MAPS = frozenset({"attributes", "labels"})


def _field(node: object) -> str | tuple[str, str] | None:
    if not isinstance(node, ast.Path):
        return None
    parts = node.parts
    if len(parts) == 1:  # a one-part path reads that key directly, whether or not it is marked dotted
        key = parts[0][0]
        return key if key in STRING_FIELDS else None
    if parts[0][0] in FLAT_MAPS and all(dotted and isinstance(k, str) for k, dotted in parts):
        return parts[0][0], ".".join(k for k, _ in parts[1:])
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


def selection_guards(selection: Selection) -> list[Guard]:
    """The guards every alternative of the selection implies: one per field that each
    alternative requires to equal some strings (folded alike)."""
    per_group: list[dict[str | tuple[str, str], tuple[frozenset, bool]]] = []
    for group in selection.groups:
        found = {}
        for m in group:
            key = _field(m.path)
            if key and m.op == "equals" and not m.negate and not m.all and all(isinstance(v, str) for v in m.values):
                found[key] = (frozenset(m.values), not m.cased)
        if not found:
            return []
        per_group.append(found)
    if not per_group:
        return []
    guards = []
    for key in sorted(set(per_group[0]).intersection(*per_group[1:]), key=str):
        folds = {g[key][1] for g in per_group}
        if len(folds) == 1:
            guards.append((key, frozenset().union(*(g[key][0] for g in per_group)), folds.pop()))
    return guards


def canary_sample_guards(rule) -> list[Guard]:
    """A sample must name its group, and only a metric whose filter passes can use it."""
    guards: list[Guard] = []
    parts = rule.group_field.parts if rule.group_field is not None else ()
    if len(parts) == 1 and isinstance(parts[0][0], str):  # any top-level key: presence reads it directly
        guards.append((parts[0][0], None, False))
    elif (key := _field(rule.group_field)) is not None:
        guards.append((key, None, False))
    # A metric without a filter takes no sample; the others each need their filter's guard.
    per_metric = [{g[0]: g[1] for g in expression_guards(f.root) if type(g[0]) is str}
                  for _, f, _ in rule.metrics if f is not None]
    common = set(per_metric[0]).intersection(*per_metric[1:]) if per_metric else set()
    for key in sorted(common):
        guards.append((key, frozenset().union(*(m[key] for m in per_metric)), False))
    return guards


def rule_guards(rule, source: str | None = None) -> list[Guard]:
    """The guards of `rule` for the items of `source` (None: of its main source)."""
    if getattr(rule, "kind", "") == "canary":
        if source is not None and source != "deployments":
            return canary_sample_guards(rule)
        return expression_guards(rule.filter.root) if rule.filter is not None else []
    guards: list[Guard] = []
    if getattr(rule, "filter", None) is not None:
        guards += expression_guards(rule.filter.root)
    selection = getattr(rule, "selection", None)
    if isinstance(selection, Selection):
        guards += selection_guards(selection)
    steps = [s for s in (getattr(rule, "first", None), getattr(rule, "then", None)) if s is not None]
    if steps and getattr(rule, "then", None) is not None:
        # first OR then: a guard for each field both steps require (folded alike)
        then = {(g[0], g[2]): g[1] for g in selection_guards(steps[1].selection)}
        for key, values, fold in selection_guards(steps[0].selection):
            if (key, fold) in then:
                guards.append((key, values | then[key, fold], fold))
    elif steps:
        guards += selection_guards(steps[0].selection)
    return sorted(guards, key=lambda g: type(g[0]) is not str)  # top-level fields first: the cheapest


def _refutes(v, values, fold: bool) -> bool:
    """True when a guard's field value proves the rule cannot accept the item: null or
    absent (or empty) where presence is required, or a string outside the guard's
    values. Any other type cannot conclude: the rule decides."""
    if type(v) is not str:
        return v is None and values is None
    if values is None:
        return not v
    return (v.lower() if fold else v) not in values


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
        if _refutes(v, values, fold):
            return False
    return True


_SPLITS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_UNKNOWN, _ABSENT = object(), object()


def _splits(key: tuple[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys ast.resolve would read before ("attributes.a.b" at the top) and instead
    of ("a" inside the map) the flat key of a map guard; one entry per rule path."""
    found = _SPLITS.get(key)
    if found is None:
        outer, parts = key[0], key[1].split(".")
        tops = tuple(".".join([outer, *parts[:stop]]) for stop in range(len(parts), 0, -1))
        shorter = tuple(".".join(parts[:stop]) for stop in range(len(parts) - 1, 0, -1))
        found = _SPLITS[key] = (tops, shorter)
    return found


def _flat_value(item: Mapping, key: tuple[str, str]) -> object:
    """What a rule's path `<map>.<key>` resolves to in `item`: the map's value for the
    flat key (None when absent), or _UNKNOWN when the path may read something else."""
    tops, shorter = _splits(key)
    flat = item.get(key[0])
    if type(flat) is not dict:
        return _UNKNOWN
    for top in tops:
        if top in item:
            return _UNKNOWN
    v = flat.get(key[1], _ABSENT)
    if v is not _ABSENT:
        return v
    for part in shorter:
        if part in flat:
            return _UNKNOWN
    return None


def passes_any_shape(guards: list[Guard], item: Mapping) -> bool:
    """`passes` for an item of any shape, not only a canonical event (a rule test's item
    may nest its attributes, or flatten them to the top): a map guard concludes only
    when the key it reads is the one the rule's path resolves to."""
    for key, values, fold in guards:
        if type(key) is str:
            v = item.get(key)
        else:
            v = _flat_value(item, key)
            if v is _UNKNOWN:
                continue
            if v is None:
                return False
        if _refutes(v, values, fold):
            return False
    return True
