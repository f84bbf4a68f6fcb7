"""AST nodes of the expression language and their interpreter.

Values are JSON values: None, bool, int, float, str, list, dict. Operators never
raise for a type mismatch between record fields (records are untrusted data):
the result is null (arithmetic) or false (comparison). EvalError is kept for
limits (integer overflow, string growth), which also count as "no match".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

MAX_INT = 1 << 1024
MAX_RESULT_STRING = 1 << 16
MAX_EXPONENT = 64


class ExprError(ValueError):
    """A compile-time problem, with the offset into the expression text."""

    def __init__(self, message: str, pos: int = 0, text: str = ""):
        self.message = message
        self.pos = pos
        before = text[:pos]
        self.line = before.count("\n") + 1
        self.col = pos - (before.rfind("\n") + 1) + 1
        super().__init__(f"{self.line}:{self.col}: {message}")


class EvalError(ValueError):
    """A run-time limit was hit while evaluating; callers treat it as no match."""


def to_number(value: object) -> int | float | None:
    """Numbers pass; numeric strings (attributes are strings) convert; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and 0 < len(value) <= 40:
        try:
            return float(value) if any(c in value for c in ".eEnN") else int(value)
        except ValueError:
            return None
    return None


def _pair(left: object, right: object) -> tuple[object, object]:
    """Make a string/number pair comparable by reading the string as a number."""
    left_num = isinstance(left, int | float) and not isinstance(left, bool)
    right_num = isinstance(right, int | float) and not isinstance(right, bool)
    if left_num and isinstance(right, str):
        converted = to_number(right)
        if converted is not None:
            return left, converted
    if right_num and isinstance(left, str):
        converted = to_number(left)
        if converted is not None:
            return converted, right
    return left, right


def compare(op: str, left: object, right: object) -> bool:
    left, right = _pair(left, right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op in ("in", "not in"):
        found = _contains(right, left)
        return found if op == "in" else not found
    if left is None or right is None:
        return False
    both_num = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if not both_num and not (isinstance(left, str) and isinstance(right, str)):
        return False
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def _contains(container: object, item: object) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list | tuple):
        return any(compare("==", item, candidate) for candidate in container)
    if isinstance(container, Mapping):
        return isinstance(item, str) and item in container
    return False


def _check_int(value: int | float) -> int | float:
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise EvalError("integer result larger than 2**1024")
    return value


def arith(op: str, left: object, right: object) -> object:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_RESULT_STRING:
            raise EvalError(f"string result longer than {MAX_RESULT_STRING} characters")
        return left + right
    a, b = to_number(left), to_number(right)
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return _check_int(a + b)
        if op == "-":
            return _check_int(a - b)
        if op == "*":
            return _check_int(a * b)
        if op == "/":
            return None if b == 0 else a / b
        if op == "%":
            return None if b == 0 else a % b
        return _power(a, b)
    except OverflowError:
        raise EvalError(f"numeric overflow in '{op}'") from None


def _power(base: int | float, exponent: int | float) -> int | float | None:
    if abs(exponent) > MAX_EXPONENT:
        raise EvalError(f"exponent {exponent!r} is larger than {MAX_EXPONENT}")
    if base == 0 and exponent < 0:
        return None
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        # Decide from bit lengths before computing, so the big multiply never runs.
        if base.bit_length() * exponent > 1024 + exponent:
            raise EvalError("integer result larger than 2**1024")
    result = base**exponent
    if isinstance(result, complex):
        return None
    return _check_int(result)


class Node:
    __slots__ = ("pos",)

    def evaluate(self, record: object, slots: dict | None) -> object:
        raise NotImplementedError

    def children(self) -> tuple[Node, ...]:
        return ()


class Literal(Node):
    __slots__ = ("value",)

    def __init__(self, value: object, pos: int):
        self.value, self.pos = value, pos

    def evaluate(self, record: object, slots: dict | None) -> object:
        return self.value


class ListLit(Node):
    __slots__ = ("items",)

    def __init__(self, items: tuple[Node, ...], pos: int):
        self.items, self.pos = items, pos

    def evaluate(self, record: object, slots: dict | None) -> object:
        return [item.evaluate(record, slots) for item in self.items]

    def children(self) -> tuple[Node, ...]:
        return self.items


class Path(Node):
    """A field path; each part is (key, dotted): dotted parts may match a flattened 'a.b' key."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[tuple[object, bool], ...], pos: int):
        self.parts, self.pos = parts, pos

    @property
    def keys(self) -> tuple:
        return tuple(key for key, _ in self.parts)

    @property
    def dotted(self) -> str:
        out = ""
        for key, dotted in self.parts:
            out += (f".{key}" if out else str(key)) if dotted else f"[{key!r}]"
        return out

    def evaluate(self, record: object, slots: dict | None) -> object:
        return resolve(record, self.parts)


def resolve(record: object, parts: tuple[tuple[object, bool], ...]) -> object:
    """Walk dicts (and lists by integer subscript) only; never Python attributes."""
    current = record
    i, n = 0, len(parts)
    while i < n:
        key, dotted = parts[i]
        if type(current) is list and type(key) is int and not dotted:
            current = current[key] if -len(current) <= key < len(current) else None
            i += 1
            continue
        # type() first: isinstance against the Mapping ABC costs more than the lookup itself.
        if type(current) is not dict and not isinstance(current, Mapping):
            return None
        if not dotted:
            if key not in current:
                return None
            current = current[key]
            i += 1
            continue
        # Longest run of dotted parts first: attributes are flattened to "a.b.c" keys.
        for stop, joined in _candidates(parts, i):
            if joined in current:
                current = current[joined]
                i = stop
                break
        else:
            return None
    return current


_CANDIDATES: dict[tuple, dict[int, tuple[tuple[int, str], ...]]] = {}


def _candidates(parts: tuple[tuple[object, bool], ...], i: int) -> tuple[tuple[int, str], ...]:
    """(stop, "a.b.c") keys to try at position i, longest first; built once per path
    (paths come from compiled rules, so the cache stays as small as the rule set)."""
    per_path = _CANDIDATES.get(parts)
    if per_path is None:
        per_path = _CANDIDATES[parts] = {}
    found = per_path.get(i)
    if found is None:
        end, n = i + 1, len(parts)
        while end < n and parts[end][1]:
            end += 1
        found = per_path[i] = tuple((stop, ".".join(str(k) for k, _ in parts[i:stop]))
                                    for stop in range(end, i, -1))
    return found


class Unary(Node):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Node, pos: int):
        self.op, self.operand, self.pos = op, operand, pos

    def evaluate(self, record: object, slots: dict | None) -> object:
        value = self.operand.evaluate(record, slots)
        if self.op == "not":
            return not value
        number = to_number(value)
        return None if number is None else -number

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


class Binary(Node):
    """and / or (short-circuit), comparisons, and arithmetic."""

    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Node, right: Node, pos: int):
        self.op, self.left, self.right, self.pos = op, left, right, pos

    def evaluate(self, record: object, slots: dict | None) -> object:
        op = self.op
        if op == "and":
            return bool(self.left.evaluate(record, slots)) and bool(self.right.evaluate(record, slots))
        if op == "or":
            return bool(self.left.evaluate(record, slots)) or bool(self.right.evaluate(record, slots))
        left, right = self.left.evaluate(record, slots), self.right.evaluate(record, slots)
        if op in COMPARISONS:
            return compare(op, left, right)
        return arith(op, left, right)

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})


class Call(Node):
    __slots__ = ("name", "args", "spec")

    def __init__(self, name: str, args: tuple[Node, ...], pos: int, spec: object):
        self.name, self.args, self.pos, self.spec = name, args, pos, spec

    def evaluate(self, record: object, slots: dict | None) -> object:
        if self.spec.window:  # type: ignore[attr-defined]
            # Window aggregates are computed by the threshold evaluator, which
            # passes their results in `slots`, keyed by the call node itself.
            if slots is None or self not in slots:
                raise EvalError(f"{self.name}() has no window data here")
            return slots[self]
        return self.spec.fn(self, record, slots)  # type: ignore[attr-defined]

    def children(self) -> tuple[Node, ...]:
        return self.args


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))
