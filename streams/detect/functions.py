"""The whitelist of functions an expression may call.

Each function takes and returns JSON values and never raises on bad data: a
wrong type gives null, so a malformed event cannot crash the detect app. Checks
that can run at compile time (regex safety, CIDR syntax, window durations,
argument counts) do, so `sluice rules lint` reports them with a position.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from streams.detect.durations import parse_duration
from streams.detect.expr_ast import ListLit, Literal, Node, to_number
from streams.detect.regex_safety import check_regex

# Backtracking search can be polynomial even for patterns lint accepts
# (`a\w+$` on "aaaa…!"); capping the text bounds the worst case per event
# (about 20 ms at 4 KiB). Regexes see the first 4 KiB of a value.
MAX_MATCH_INPUT = 4096


@dataclass(frozen=True)
class FunctionSpec:
    min_args: int
    max_args: int
    fn: Callable | None = None
    literal_args: tuple[int, ...] = ()
    check: Callable[[list[Node]], str] | None = None
    window: bool = False
    doc: str = field(default="", compare=False)


def _eager(impl: Callable) -> Callable:
    def call(node, record, slots):
        return impl(*(arg.evaluate(record, slots) for arg in node.args))

    return call


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _lower(s):
    return s.lower() if isinstance(s, str) else None


def _upper(s):
    return s.upper() if isinstance(s, str) else None


def _len(x):
    return len(x) if isinstance(x, str | list | Mapping) else None


def _abs(x):
    n = to_number(x)
    return None if n is None else abs(n)


def _numbers(args: tuple) -> list:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    return [n for n in (to_number(v) for v in values) if n is not None]


def _min(*args):
    values = _numbers(args)
    return min(values) if values else None


def _max(*args):
    values = _numbers(args)
    return max(values) if values else None


def _round(x, digits=0):
    n, d = to_number(x), to_number(digits)
    if n is None or d is None:
        return None
    d = max(0, min(12, int(d)))
    return round(n, d) if d else round(n)


def _startswith(s, prefix):
    return isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix)


def _endswith(s, suffix):
    return isinstance(s, str) and isinstance(suffix, str) and s.endswith(suffix)


def _contains(s, part):
    if isinstance(s, list):
        return part in s
    return isinstance(s, str) and isinstance(part, str) and part in s


@lru_cache(maxsize=1024)
def compiled_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _matches(s, pattern):
    if not isinstance(s, str):
        return False
    return compiled_regex(pattern).search(s[:MAX_MATCH_INPUT]) is not None


@lru_cache(maxsize=1024)
def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def cidr_match(ip: object, networks: object) -> bool:
    """True when `ip` (text) is inside any of `networks` (one CIDR or a list)."""
    if not isinstance(ip, str) or not ip:
        return False
    try:
        address = ipaddress.ip_address(ip.strip("[]").split("%")[0])
    except ValueError:
        return False
    candidates = networks if isinstance(networks, list) else [networks]
    for network in candidates:
        if not isinstance(network, str):
            continue
        try:
            if address in parse_network(network):
                return True
        except ValueError:
            continue
    return False


def _exists(x):
    return x is not None and x != ""


def _coalesce(*args):
    for value in args:
        if value is not None and value != "":
            return value
    return None


def _if(node, record, slots):
    cond, yes, no = node.args
    return (yes if cond.evaluate(record, slots) else no).evaluate(record, slots)


def _string(x):
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x) if isinstance(x, str | int | float) else None


def _check_regex(args: list[Node]) -> str:
    pattern = args[1]
    problems = check_regex(pattern.value) if isinstance(pattern, Literal) else []
    return "; ".join(problems)


def _check_cidr(args: list[Node]) -> str:
    literal = args[1]
    values = []
    if isinstance(literal, Literal):
        values = [literal.value]
    elif isinstance(literal, ListLit):
        values = [item.value for item in literal.items if isinstance(item, Literal)]
    for value in values:
        try:
            parse_network(str(value))
        except ValueError:
            return f"{value!r} is not a CIDR network (e.g. 10.0.0.0/8 or 2001:db8::/32)"
    return ""


def _check_window(args: list[Node]) -> str:
    if len(args) < 2:
        return ""
    try:
        seconds = parse_duration(args[1].value)  # type: ignore[attr-defined]
    except ValueError as exc:
        return str(exc)
    return "" if seconds > 0 else "the window must be longer than zero"


FUNCTIONS: dict[str, FunctionSpec] = {
    "lower": FunctionSpec(1, 1, _eager(_lower), doc="lower-case a string"),
    "upper": FunctionSpec(1, 1, _eager(_upper), doc="upper-case a string"),
    "len": FunctionSpec(1, 1, _eager(_len), doc="length of a string, list or map"),
    "abs": FunctionSpec(1, 1, _eager(_abs), doc="absolute value"),
    "min": FunctionSpec(1, 16, _eager(_min), doc="smallest number (nulls ignored)"),
    "max": FunctionSpec(1, 16, _eager(_max), doc="largest number (nulls ignored)"),
    "round": FunctionSpec(1, 2, _eager(_round), doc="round(x, digits)"),
    "startswith": FunctionSpec(2, 2, _eager(_startswith), doc="string prefix test"),
    "endswith": FunctionSpec(2, 2, _eager(_endswith), doc="string suffix test"),
    "contains": FunctionSpec(2, 2, _eager(_contains), doc="substring (or list member) test"),
    "matches": FunctionSpec(2, 2, _eager(_matches), literal_args=(1,), check=_check_regex, doc="regex search; literal, safety-checked pattern"),
    "cidr_match": FunctionSpec(2, 2, _eager(cidr_match), check=_check_cidr, doc="ip inside a CIDR or list of CIDRs"),
    "exists": FunctionSpec(1, 1, _eager(_exists), doc="value present and not empty"),
    "coalesce": FunctionSpec(1, 16, _eager(_coalesce), doc="first present value"),
    "if": FunctionSpec(3, 3, _if, doc="if(cond, then, else); only the chosen branch is evaluated"),
    "number": FunctionSpec(1, 1, _eager(to_number), doc="read a number from a string"),
    "string": FunctionSpec(1, 1, _eager(_string), doc="text form of a value"),
}

# Aggregates over the buckets of a threshold rule's window: f(value_expr[, "1h"]).
WINDOW_FUNCTIONS: dict[str, FunctionSpec] = {
    name: FunctionSpec(1, 2, literal_args=(1,), check=_check_window, window=True, doc=doc)
    for name, doc in {
        "sum_over": "sum of the value over the window's buckets",
        "avg_over": "mean of the value over the window's buckets",
        "min_over": "smallest value in the window",
        "max_over": "largest value in the window",
        "count_over": "number of buckets in the window where the value is present",
    }.items()
}
