"""Conditions under which a rule surely accepts a canonical event, so that the ingest
pre-filter can take the event without interpreting the rule (its `accepts` in Python
costs ~50 times the dict lookups here; most security events pass some rule's guards).

Where guards (streams/detect/guards.py) are necessary conditions, these are sufficient
ones: alternatives, each a list of guards that must all hold positively, the field a
string among the values (present and not "" for a presence guard). They exist only
where the rule's acceptance is exactly such equalities: a filter of `field == "x"` /
`field in [...]` conjuncts and `match:` alternatives of plain (case-folded) equalities,
under the kinds whose `accepts` is the source, the filter and that selection and nothing
else. Anything else gives no alternative for that part: the rule decides, as before.
A map guard reads a canonical event's flat map, as guards do.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect import expr_ast as ast
from streams.detect.evaluators.base import CompiledRule
from streams.detect.evaluators.matchers import Selection
from streams.detect.evaluators.pattern import PatternEvaluator
from streams.detect.evaluators.sequence import SequenceEvaluator
from streams.detect.guards import Guard, expression_guards, selection_guards

Alternatives = list[list[Guard]]


def _exact_filter(expr) -> list[Guard] | None:
    """The filter as guards, when it is exactly their conjunction (None: it is not)."""
    if expr is None:
        return []
    conjuncts, stack = [], [expr.root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Binary) and node.op == "and":
            stack += [node.right, node.left]
        else:
            conjuncts.append(node)
    guards = []
    for node in conjuncts:
        found = expression_guards(node)
        if len(found) != 1 or not (isinstance(node, ast.Binary) and node.op in ("==", "in")):
            return None
        guards += found
    return guards


def _exact_selection(selection: Selection) -> Alternatives:
    """One alternative per group of plain equalities (an empty selection matches all)."""
    if not selection.groups:
        return [[]]
    alternatives = []
    for group in selection.groups:
        guards = [g for m in group for g in selection_guards(Selection(((m,),)))]
        if len(guards) == len(group):
            alternatives.append(guards)
    return alternatives


def sufficient(rule: CompiledRule, source: str | None = None) -> Alternatives:
    """Alternatives any one of which makes `rule` accept a canonical event of `source`."""
    accepts = type(rule).accepts
    base = _exact_filter(rule.filter)
    if base is None or (source is not None and source not in rule.sources):
        return []
    if accepts is CompiledRule.accepts:
        parts: Alternatives = [[]]
    elif accepts is PatternEvaluator.accepts:
        parts = _exact_selection(rule.selection)
    elif accepts is SequenceEvaluator.accepts:
        parts = []
        for step in (rule.first, rule.then):
            step_filter = _exact_filter(step.filter) if step is not None else None
            if step_filter is not None:
                parts += [alt + step_filter for alt in _exact_selection(step.selection)]
    else:
        return []  # an evaluator with more to its acceptance (canary)
    return [base + alt for alt in parts]


def holds(alternatives: Alternatives, item: Mapping) -> bool:
    """True when every guard of some alternative holds positively for `item`."""
    if type(item) is not dict:
        return False
    for alternative in alternatives:
        for key, values, fold in alternative:
            if type(key) is str:
                v = item.get(key)
            else:
                flat = item.get(key[0])
                v = flat.get(key[1]) if type(flat) is dict else None
            if type(v) is not str:
                break
            if values is None:
                if not v:
                    break
            elif (v.lower() if fold else v) not in values:
                break
        else:
            return True
    return False
