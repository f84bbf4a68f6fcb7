"""Sigma-style field matchers: `field|modifier|...: value or [values]`.

A `match:` map ANDs its entries; a list of maps ORs them. A list of values
matches when any value does (`|all`: every value must). Modifiers:

    (none)       equals            contains / startswith / endswith
    re           regex search (safety-checked; case-sensitive unless (?i))
    cidr         address inside a network        exists   true / false
    gt gte lt lte  numeric comparison             not      negate the entry
    all          every value must match           cased    case-sensitive strings

Strings compare case-insensitively by default, as in Sigma. Field values that
are numbers compare numerically with numeric strings (attributes are strings).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from streams.detect import expr_ast as ast
from streams.detect.evaluators.base import CompileContext
from streams.detect.functions import MAX_MATCH_INPUT, cidr_match, parse_network
from streams.detect.regex_safety import check_regex

STRING_OPS = {"equals", "contains", "startswith", "endswith"}
VALUE_OPS = STRING_OPS | {"re", "cidr", "exists", "gt", "gte", "lt", "lte"}
FLAGS = {"all", "cased", "not"}
_NUMERIC = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class FieldMatcher:
    field: str
    path: ast.Path
    op: str
    values: tuple
    all: bool = False
    cased: bool = False
    negate: bool = False

    def __post_init__(self) -> None:
        # The ingest pre-filter runs these for every security event against every rule
        # whose guards pass: the common case (a top-level field equal to one of a few
        # strings) gets a dict lookup and a set test instead of the general walk.
        parts = self.path.parts
        names = [k for k, _ in parts if isinstance(k, str)]
        key = names[0] if len(parts) == 1 and len(names) == 1 else None
        nested = None
        if len(parts) > 1 and len(names) == len(parts) and all(dotted for _, dotted in parts):
            # ast.resolve tries the longest flattened key first at each level: "a.b.c" at
            # the top, else inside object a the key "b.c", then shorter splits.
            joins = [".".join(names[:stop]) for stop in range(len(names), 0, -1)]
            inner = [".".join(names[1:stop]) for stop in range(len(names), 1, -1)]
            nested = (joins[0], tuple(joins[1:-1]), names[0], inner[0], tuple(inner[1:]))
        strings = self.op == "equals" and not self.all and all(isinstance(v, str) for v in self.values)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_nested", nested)
        object.__setattr__(self, "_equals", frozenset(self.values) if strings else None)

    def _find(self, item: Mapping) -> object:
        """ast.resolve's answer, by direct lookups in the usual cases; resolve itself
        whenever a shorter split of the path exists in the record."""
        if type(item) is dict:
            if self._key is not None:
                return item.get(self._key)
            nested = self._nested
            if nested is not None:
                joined, middles, outer, inner, shorter = nested
                if joined in item:
                    return item[joined]
                if not middles or not any(m in item for m in middles):
                    if outer not in item:
                        return None
                    sub = item[outer]
                    if type(sub) is dict and not any(k in sub for k in shorter):
                        return sub.get(inner)
                    if sub is None:
                        return None
        return ast.resolve(item, self.path.parts)

    def test(self, item: Mapping) -> bool:
        found = self._find(item)
        equals = self._equals
        if equals is not None and type(found) is str:
            result = (found if self.cased else found.lower()) in equals
            return not result if self.negate else result
        if found is None and self.op != "exists":
            return self.negate  # an absent field matches no value
        candidates = found if isinstance(found, list) else [found]
        if self.op == "exists":
            present = any(v is not None and v != "" for v in candidates)
            result = present == self.values[0]
        else:
            checks = (any(self._one(c, v) for c in candidates) for v in self.values)
            result = all(checks) if self.all else any(checks)
        return not result if self.negate else result

    def _one(self, found: object, want: object) -> bool:
        if found is None:
            return False
        if isinstance(found, bool):
            found = "true" if found else "false"
        op = self.op
        if op in _NUMERIC:
            return ast.compare(_NUMERIC[op], found, want)
        if op == "cidr":
            return cidr_match(found, want)
        if op == "re":
            return isinstance(found, str) and want.search(found[:MAX_MATCH_INPUT]) is not None  # type: ignore[attr-defined]
        if not isinstance(found, str) or not isinstance(want, str):
            return ast.compare("==", found, want) if op == "equals" else False
        if not self.cased:
            found = found.lower()
        if op == "equals":
            return found == want
        if op == "contains":
            return want in found
        if op == "startswith":
            return found.startswith(want)
        return found.endswith(want)


@dataclass(frozen=True)
class Selection:
    """OR of AND-groups of field matchers; an empty selection matches everything."""

    groups: tuple[tuple[FieldMatcher, ...], ...]

    def test(self, item: Mapping) -> bool:
        if not self.groups:
            return True
        for group in self.groups:  # loops, not any(all(...)): no generator per item
            for matcher in group:
                if not matcher.test(item):
                    break
            else:
                return True
        return False


def compile_selection(spec: object, ctx: CompileContext, path: tuple) -> Selection:
    maps = spec if isinstance(spec, list) else [spec]
    groups = []
    for index, entry in enumerate(maps):
        where = path + (index,) if isinstance(spec, list) else path
        if not isinstance(entry, Mapping):
            ctx.problem(where, "a match entry must be a map of field|modifier: value")
            continue
        group = [m for key, value in entry.items() if (m := _compile_entry(str(key), value, ctx, where + (key,)))]
        if group or not entry:
            groups.append(tuple(group))
    return Selection(tuple(g for g in groups if g))


def _compile_entry(key: str, value: object, ctx: CompileContext, where: tuple) -> FieldMatcher | None:
    field, *mods = key.split("|")
    path = ctx.path(field, where, at_key=True)
    if path is None:
        return None
    ops = [m for m in mods if m in VALUE_OPS]
    unknown = [m for m in mods if m not in VALUE_OPS and m not in FLAGS]
    if unknown:
        ctx.problem(where, f"unknown modifier {unknown[0]!r} in {key!r} (known: {', '.join(sorted(VALUE_OPS | FLAGS))})",
                    offset=key.index("|" + unknown[0]) + 1, at_key=True)
        return None
    if len(ops) > 1:
        ctx.problem(where, f"{key!r} has two value modifiers ({', '.join(ops)}); use one", at_key=True)
        return None
    op = ops[0] if ops else "equals"
    raw = value if isinstance(value, list) else [value]
    if not raw:
        ctx.problem(where, f"{key!r} has an empty list of values")
        return None
    cased = "cased" in mods
    values = _values(op, raw, cased, ctx, where, key)
    if values is None:
        return None
    return FieldMatcher(field, path, op, values, all="all" in mods, cased=cased, negate="not" in mods)


def _values(op: str, raw: list, cased: bool, ctx: CompileContext, where: tuple, key: str) -> tuple | None:
    if op == "exists":
        if len(raw) != 1 or not isinstance(raw[0], bool):
            ctx.problem(where, f"{key!r} takes true or false")
            return None
        return (raw[0],)
    out: list = []
    for value in raw:
        if isinstance(value, list | Mapping) or value is None:
            ctx.problem(where, f"{key!r}: values must be strings or numbers, got {value!r}")
            return None
        if isinstance(value, bool):
            value = "true" if value else "false"
        if op == "re":
            problems = check_regex(str(value))
            if problems:
                ctx.problem(where, f"{key!r}: unsafe or invalid regex {value!r}: {'; '.join(problems)}")
                return None
            out.append(re.compile(str(value)))
        elif op == "cidr":
            try:
                parse_network(str(value))
            except ValueError:
                ctx.problem(where, f"{key!r}: {value!r} is not a CIDR network (e.g. 10.0.0.0/8)")
                return None
            out.append(str(value))
        elif op in _NUMERIC:
            if ast.to_number(value) is None:
                ctx.problem(where, f"{key!r}: {value!r} is not a number")
                return None
            out.append(ast.to_number(value))
        elif isinstance(value, str):
            out.append(value if cased else value.lower())
        elif op == "equals":
            out.append(value)
        else:
            out.append(str(value) if cased else str(value).lower())
    return tuple(out)
