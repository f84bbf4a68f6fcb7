"""Rule expressions and field matchers as ClickHouse SQL.

A `Columns` resolver says which column a field path reads and whether it holds
text (numeric comparisons then parse it, like the evaluator does); raw event
tables use `RAW`, rollup and windowed queries pass their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streams.detect import expr_ast as ast
from streams.detect.evaluators.matchers import FieldMatcher, Selection

_MAPS = {"attributes", "labels"}
_NUMERIC = {"severity_number", "value"}
_CMP = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": "plus", "-": "minus", "*": "multiply", "%": "modulo"}


# Expression functions with a direct ClickHouse form: SQL of the arguments -> SQL.
_FUNCTIONS: dict[str, Callable[[list[str]], str]] = {
    "lower": lambda a: f"lowerUTF8({a[0]})",
    "upper": lambda a: f"upperUTF8({a[0]})",
    "len": lambda a: f"lengthUTF8({a[0]})",
    "abs": lambda a: f"abs({a[0]})",
    "min": lambda a: f"least({', '.join(a)})",
    "max": lambda a: f"greatest({', '.join(a)})",
    "round": lambda a: f"round({', '.join(a)})",
    "startswith": lambda a: f"startsWith({a[0]}, {a[1]})",
    "endswith": lambda a: f"endsWith({a[0]}, {a[1]})",
    "contains": lambda a: f"(position({a[0]}, {a[1]}) > 0)",
    "matches": lambda a: f"match({a[0]}, {a[1]})",
    "exists": lambda a: f"({a[0]} != '')",
    "coalesce": lambda a: "coalesce(" + ", ".join(f"nullIf({x}, '')" for x in a) + ")",
    "if": lambda a: f"if({a[0]}, {a[1]}, {a[2]})",
    "number": lambda a: f"toFloat64OrNull(toString({a[0]}))",
    "string": lambda a: f"toString({a[0]})",
}

class SqlUnsupported(ValueError):
    """This rule (or one of its constructs) has no SQL form; the message says which."""


def quote(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def ident(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


def dotted(keys: tuple) -> str:
    return ".".join(str(k) for k in keys)


class Columns:
    """Field paths of a raw event table: attributes.http.method -> attributes['http.method']."""

    def sql(self, keys: tuple) -> str:
        head = str(keys[0])
        if head in _MAPS and len(keys) > 1:
            return f"{head}[{quote(dotted(keys[1:]))}]"
        if len(keys) > 1:
            raise SqlUnsupported(f"field {dotted(keys)!r} has no column")
        if head == "ts":
            return "toFloat64(ts)"
        if not head.replace("_", "").isalnum():
            raise SqlUnsupported(f"field {head!r} has no column")
        return ident(head)

    def is_string(self, keys: tuple) -> bool:
        return str(keys[0]) not in _NUMERIC and keys[0] != "ts"


RAW = Columns()


class MappedColumns(Columns):
    """Columns of a derived relation: `fields` maps a dotted path to (sql, is_string);
    `maps` maps a dotted prefix to a Map column (series.labels.queue -> `series.labels`['queue'])."""

    def __init__(self, fields: Mapping[str, tuple[str, bool]], maps: Mapping[str, str] | None = None,
                 where: str = "this query"):
        self.fields = dict(fields)
        self.maps = dict(maps or {})
        self.where = where

    def _lookup(self, keys: tuple) -> tuple[str, bool]:
        text = dotted(keys)
        if text in self.fields:
            return self.fields[text]
        for prefix, col in self.maps.items():
            if text.startswith(prefix + "."):
                return f"{col}[{quote(text[len(prefix) + 1:])}]", True
        known = ", ".join(sorted(self.fields) + [p + ".<key>" for p in sorted(self.maps)])
        raise SqlUnsupported(f"field {text!r} is not available in {self.where} (known: {known})")

    def sql(self, keys: tuple) -> str:
        return self._lookup(keys)[0]

    def is_string(self, keys: tuple) -> bool:
        return self._lookup(keys)[1]


class ExprSql:
    """AST -> SQL. `slots` maps window-aggregate call nodes (sum_over(x) ...) to the
    column holding their value; a window call without a slot has no SQL form."""

    def __init__(self, columns: Columns = RAW, slots: Mapping[ast.Call, str] | None = None):
        self.columns = columns
        self.slots = slots or {}

    def __call__(self, node: ast.Node) -> str:
        if isinstance(node, ast.Literal):
            return quote(node.value)
        if isinstance(node, ast.ListLit):
            return "[" + ", ".join(self(item) for item in node.items) + "]"
        if isinstance(node, ast.Path):
            return self.columns.sql(node.keys)
        if isinstance(node, ast.Unary):
            inner = self(node.operand)
            return f"NOT ({inner})" if node.op == "not" else f"-({inner})"
        if isinstance(node, ast.Binary):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise SqlUnsupported(f"no SQL for {type(node).__name__}")

    def numeric(self, node: ast.Node) -> str:
        sql = self(node)
        if isinstance(node, ast.Path) and self.columns.is_string(node.keys):
            return f"toFloat64OrNull({sql})"
        return sql

    def binary(self, node: ast.Binary) -> str:
        op = node.op
        if op in ("and", "or"):
            return f"({self(node.left)} {op.upper()} {self(node.right)})"
        if op in ("in", "not in"):
            negate = "NOT " if op == "not in" else ""
            if isinstance(node.right, ast.ListLit):
                return f"{negate}({self(node.left)} IN ({', '.join(self(i) for i in node.right.items)}))"
            return f"{negate}(position({self(node.right)}, {self(node.left)}) > 0)"
        if op in _CMP:
            numeric = any(isinstance(side, ast.Literal) and isinstance(side.value, int | float)
                          and not isinstance(side.value, bool) for side in (node.left, node.right))
            left = self.numeric(node.left) if numeric else self(node.left)
            right = self.numeric(node.right) if numeric else self(node.right)
            return f"ifNull({left} {_CMP[op]} {right}, 0)"
        left, right = self.numeric(node.left), self.numeric(node.right)
        if op == "/":
            return f"({left} / nullIf({right}, 0))"
        if op == "**":
            return f"pow({left}, {right})"
        return f"{_ARITH[op]}({left}, {right})"

    def call(self, node: ast.Call) -> str:
        name = node.name
        if node.spec.window:  # type: ignore[attr-defined]
            if node not in self.slots:
                raise SqlUnsupported(f"{name}() outside a windowed query")
            return self.slots[node]
        args = [self(arg) for arg in node.args]
        if name == "cidr_match":
            networks = node.args[1]
            values = [i.value for i in networks.items] if isinstance(networks, ast.ListLit) else [getattr(networks, "value", None)]
            if not all(isinstance(v, str) for v in values):
                raise SqlUnsupported("cidr_match() needs literal networks in SQL")
            return "(" + " OR ".join(f"isIPAddressInRange({args[0]}, {quote(v)})" for v in values) + ")"
        if name not in _FUNCTIONS:
            raise SqlUnsupported(f"no SQL for {name}()")
        return _FUNCTIONS[name](args)


def matcher_sql(m: FieldMatcher, columns: Columns = RAW) -> str:
    col = columns.sql(m.path.keys)
    is_string = columns.is_string(m.path.keys)
    text = col if m.cased or not is_string else f"lowerUTF8({col})"
    if m.op == "exists":
        sql = f"({col} != '')" if m.values[0] else f"({col} = '')"
    else:
        parts = []
        for value in m.values:
            if m.op == "equals":
                parts.append(f"{text} = {quote(value)}")
            elif m.op == "contains":
                parts.append(f"position({text}, {quote(value)}) > 0")
            elif m.op == "startswith":
                parts.append(f"startsWith({text}, {quote(value)})")
            elif m.op == "endswith":
                parts.append(f"endsWith({text}, {quote(value)})")
            elif m.op == "re":
                parts.append(f"match({col}, {quote(value.pattern)})")
            elif m.op == "cidr":
                parts.append(f"isIPAddressInRange({col}, {quote(value)})")
            else:
                op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[m.op]
                number = f"toFloat64OrNull({col})" if is_string else col
                parts.append(f"ifNull({number} {op} {quote(value)}, 0)")
        sql = "(" + (" AND " if m.all else " OR ").join(parts) + ")"
    return f"NOT {sql}" if m.negate else sql


def selection_sql(selection: Selection, columns: Columns = RAW) -> str:
    if not selection.groups:
        return "1"
    return "(" + " OR ".join("(" + " AND ".join(matcher_sql(m, columns) for m in group) + ")"
                             for group in selection.groups) + ")"
