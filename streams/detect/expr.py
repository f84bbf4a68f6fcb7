"""A small, safe expression language for rule filters and conditions.

Rule text is data: it is tokenized and parsed by a recursive-descent parser into
an AST (`streams.detect.expr_ast`) that an interpreter walks over a plain dict.
There is no `eval`, no attribute access into Python objects (a field path only
ever indexes dicts), and every cost is bounded at compile time:

- text length, string-literal length, number-literal length, node count and
  nesting depth are capped, so a hostile rule cannot exhaust the parser;
- `**` with a constant exponent above `MAX_EXPONENT` is rejected when compiled,
  and at run time integer results are capped (see `expr_ast`);
- `matches(s, "re")` only takes a literal pattern, checked by `regex_safety`;
- names that start with `_` are reserved, so `__class__` never parses.

Grammar (lowest precedence first)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := add ((== != < <= > >= in "not in") add)?
    add     := mul (("+" | "-") mul)*
    mul     := unary (("*" | "/" | "%") unary)*
    unary   := "-" unary | power
    power   := primary ("**" unary)?
    primary := NUMBER | STRING | true | false | null | "[" list "]" | "(" expr ")"
             | NAME "(" args ")" | NAME ("." NAME | "[" STRING | INT "]")*

Field paths resolve against the record: `attributes.provider` finds
`record["attributes"]["provider"]`; because canonical attributes are flattened to
dotted keys, `attributes.http.method` also finds `record["attributes"]["http.method"]`.
A missing field is `null`; comparisons with `null` are false (except `==`/`!=`).
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.detect import expr_ast as ast
from streams.detect.expr_ast import MAX_EXPONENT, EvalError, ExprError
from streams.detect.functions import FUNCTIONS, WINDOW_FUNCTIONS

__all__ = ["Expr", "ExprError", "EvalError", "compile_expr", "tokenize"]

MAX_TEXT = 8192
MAX_STRING = 4096
MAX_NUMBER_CHARS = 40
MAX_DEPTH = 48
MAX_NODES = 600
MAX_LIST = 1000

KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_TWO_CHAR = {"==", "!=", "<=", ">=", "**"}
_ONE_CHAR = set("<>+-*/%()[],.")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


@dataclass(frozen=True)
class Token:
    kind: str  # NUM, STR, NAME, OP, EOF
    value: object
    pos: int


def _error(text: str, pos: int, message: str) -> ExprError:
    return ExprError(message, pos=pos, text=text)


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_TEXT:
        raise _error(text, MAX_TEXT, f"expression is longer than {MAX_TEXT} characters")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _number(text, i, tokens)
        elif c in "'\"":
            i = _string(text, i, tokens)
        elif c.isalpha() or c == "_":
            start = i
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            word = text[start:i]
            if word.startswith("_"):
                raise _error(text, start, f"names starting with '_' are reserved: {word!r}")
            tokens.append(Token("OP" if word in KEYWORDS else "NAME", word, start))
        elif text[i : i + 2] in _TWO_CHAR:
            tokens.append(Token("OP", text[i : i + 2], i))
            i += 2
        elif c in _ONE_CHAR:
            tokens.append(Token("OP", c, i))
            i += 1
        elif c in "=!":
            raise _error(text, i, f"unexpected {c!r} (did you mean '{c}='?)")
        else:
            raise _error(text, i, f"unexpected character {c!r}")
    tokens.append(Token("EOF", None, n))
    return tokens


def _number(text: str, i: int, tokens: list[Token]) -> int:
    start, n = i, len(text)
    while i < n and (text[i].isdigit() or text[i] in "._"):
        i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            i = j
            while i < n and text[i].isdigit():
                i += 1
    raw = text[start:i]
    if len(raw) > MAX_NUMBER_CHARS:
        raise _error(text, start, f"number literal longer than {MAX_NUMBER_CHARS} characters")
    try:
        value: int | float = int(raw) if raw.replace("_", "").isdigit() else float(raw)
    except ValueError:
        raise _error(text, start, f"invalid number {raw!r}") from None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise _error(text, start, f"number {raw!r} is out of range")
    tokens.append(Token("NUM", value, start))
    return i


def _string(text: str, i: int, tokens: list[Token]) -> int:
    quote, start, n = text[i], i, len(text)
    i += 1
    out: list[str] = []
    while True:
        if i >= n:
            raise _error(text, start, "unterminated string")
        c = text[i]
        if c == quote:
            break
        if c == "\\":
            if i + 1 >= n:
                raise _error(text, start, "unterminated string")
            esc = text[i + 1]
            if esc not in _ESCAPES:
                raise _error(text, i, f"unknown escape '\\{esc}' (use '\\\\' for a backslash)")
            out.append(_ESCAPES[esc])
            i += 2
        else:
            out.append(c)
            i += 1
        if len(out) > MAX_STRING:
            raise _error(text, start, f"string literal longer than {MAX_STRING} characters")
    tokens.append(Token("STR", "".join(out), start))
    return i + 1


class _Parser:
    def __init__(self, text: str, allow_window: bool):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0
        self.allow_window = allow_window

    # -- helpers ---------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "OP" and tok.value in ops

    def expect(self, op: str) -> Token:
        tok = self.peek()
        if not (tok.kind == "OP" and tok.value == op):
            raise self.err(tok, f"expected {op!r}, found {self.describe(tok)}")
        return self.next()

    def err(self, tok: Token, message: str) -> ExprError:
        return _error(self.text, tok.pos, message)

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind == "EOF":
            return "end of expression"
        if tok.kind == "STR":
            return "a string"
        return repr(tok.value)

    def node(self, node: ast.Node, tok: Token) -> ast.Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.err(tok, f"expression has more than {MAX_NODES} nodes")
        return node

    def enter(self, tok: Token) -> None:
        # Recursion is bounded here, well below Python's own limit, so a deeply
        # nested hostile expression is an ExprError rather than a RecursionError.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.err(tok, f"expression nested deeper than {MAX_DEPTH} levels")

    # -- grammar ---------------------------------------------------------
    def parse(self) -> ast.Node:
        if self.peek().kind == "EOF":
            raise self.err(self.peek(), "empty expression")
        node = self.expr()
        tok = self.peek()
        if tok.kind != "EOF":
            raise self.err(tok, f"unexpected {self.describe(tok)} after a complete expression")
        return node

    def expr(self) -> ast.Node:
        tok = self.peek()
        self.enter(tok)
        try:
            return self.or_()
        finally:
            self.depth -= 1

    def or_(self) -> ast.Node:
        left = self.and_()
        while self.at("or"):
            tok = self.next()
            left = self.node(ast.Binary("or", left, self.and_(), tok.pos), tok)
        return left

    def and_(self) -> ast.Node:
        left = self.not_()
        while self.at("and"):
            tok = self.next()
            left = self.node(ast.Binary("and", left, self.not_(), tok.pos), tok)
        return left

    def not_(self) -> ast.Node:
        if self.at("not"):
            tok = self.next()
            self.enter(tok)
            try:
                return self.node(ast.Unary("not", self.not_(), tok.pos), tok)
            finally:
                self.depth -= 1
        return self.cmp()

    def cmp(self) -> ast.Node:
        left = self.add()
        tok = self.peek()
        op = None
        if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            op = self.next().value
        elif self.at("not") and self.tokens[self.i + 1].kind == "OP" and self.tokens[self.i + 1].value == "in":
            self.i += 2
            op = "not in"
        if op is None:
            return left
        right = self.add()
        if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            raise self.err(self.peek(), "chained comparisons are not supported; join them with 'and'")
        return self.node(ast.Binary(str(op), left, right, tok.pos), tok)

    def add(self) -> ast.Node:
        left = self.mul()
        while self.at("+", "-"):
            tok = self.next()
            left = self.node(ast.Binary(str(tok.value), left, self.mul(), tok.pos), tok)
        return left

    def mul(self) -> ast.Node:
        left = self.unary()
        while self.at("*", "/", "%"):
            tok = self.next()
            left = self.node(ast.Binary(str(tok.value), left, self.unary(), tok.pos), tok)
        return left

    def unary(self) -> ast.Node:
        if self.at("-"):
            tok = self.next()
            self.enter(tok)
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float) and not isinstance(operand.value, bool):
                return ast.Literal(-operand.value, tok.pos)
            return self.node(ast.Unary("-", operand, tok.pos), tok)
        return self.power()

    def power(self) -> ast.Node:
        base = self.primary()
        if self.at("**"):
            tok = self.next()
            self.enter(tok)
            try:
                exponent = self.unary()
            finally:
                self.depth -= 1
            if isinstance(exponent, ast.Literal) and isinstance(exponent.value, int | float):
                if abs(exponent.value) > MAX_EXPONENT:
                    raise self.err(tok, f"exponent {exponent.value!r} is larger than {MAX_EXPONENT}")
            return self.node(ast.Binary("**", base, exponent, tok.pos), tok)
        return base

    def primary(self) -> ast.Node:
        tok = self.next()
        if tok.kind in ("NUM", "STR"):
            return self.node(ast.Literal(tok.value, tok.pos), tok)
        if tok.kind == "OP":
            if tok.value in ("true", "false", "null"):
                value = {"true": True, "false": False, "null": None}[str(tok.value)]
                return self.node(ast.Literal(value, tok.pos), tok)
            if tok.value == "(":
                inner = self.expr()
                self.expect(")")
                return inner
            if tok.value == "[":
                return self.list_(tok)
        if tok.kind == "NAME":
            if self.at("("):
                return self.call(tok)
            return self.path(tok)
        raise self.err(tok, f"unexpected {self.describe(tok)}")

    def list_(self, open_tok: Token) -> ast.Node:
        items: list[ast.Node] = []
        while not self.at("]"):
            items.append(self.expr())
            if len(items) > MAX_LIST:
                raise self.err(open_tok, f"list literal has more than {MAX_LIST} items")
            if not self.at("]"):
                self.expect(",")
        self.expect("]")
        return self.node(ast.ListLit(tuple(items), open_tok.pos), open_tok)

    def path(self, first: Token) -> ast.Node:
        parts: list[tuple[object, bool]] = [(first.value, True)]
        while self.at(".", "["):
            tok = self.next()
            if tok.value == ".":
                name = self.next()
                if name.kind not in ("NAME", "OP") or not isinstance(name.value, str) or not name.value.isidentifier():
                    raise self.err(name, f"expected a field name after '.', found {self.describe(name)}")
                if name.value.startswith("_"):
                    raise self.err(name, f"names starting with '_' are reserved: {name.value!r}")
                parts.append((name.value, True))
            else:
                key = self.next()
                if key.kind not in ("STR", "NUM") or isinstance(key.value, float):
                    raise self.err(key, "a subscript must be a string or integer literal, e.g. labels[\"le\"]")
                self.expect("]")
                parts.append((key.value, False))
        return self.node(ast.Path(tuple(parts), first.pos), first)

    def call(self, name_tok: Token) -> ast.Node:
        name = str(name_tok.value)
        self.expect("(")
        args: list[ast.Node] = []
        while not self.at(")"):
            args.append(self.expr())
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        if name in WINDOW_FUNCTIONS:
            if not self.allow_window:
                raise self.err(name_tok, f"{name}() aggregates over a window and is only allowed in a threshold condition")
            spec = WINDOW_FUNCTIONS[name]
        elif name in FUNCTIONS:
            spec = FUNCTIONS[name]
        else:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.err(name_tok, f"unknown function {name!r} (known: {known})")
        if not spec.min_args <= len(args) <= spec.max_args:
            want = str(spec.min_args) if spec.min_args == spec.max_args else f"{spec.min_args}..{spec.max_args}"
            raise self.err(name_tok, f"{name}() takes {want} argument(s), got {len(args)}")
        for index in spec.literal_args:
            if index < len(args) and not (isinstance(args[index], ast.Literal) and isinstance(args[index].value, str)):
                raise self.err(name_tok, f"argument {index + 1} of {name}() must be a string literal")
        if spec.check is not None:
            problem = spec.check(args)
            if problem:
                at = args[1].pos if len(args) > 1 else name_tok.pos
                raise _error(self.text, at, f"{name}(): {problem}")
        return self.node(ast.Call(name, tuple(args), name_tok.pos, spec), name_tok)


class Expr:
    """A compiled expression. `evaluate` may raise EvalError; `test` never raises."""

    __slots__ = ("text", "root")

    def __init__(self, text: str, root: ast.Node):
        self.text = text
        self.root = root

    def evaluate(self, record: object, slots: dict | None = None) -> object:
        return self.root.evaluate(record, slots)

    def test(self, record: object, slots: dict | None = None) -> bool:
        """Truthiness of the value; a run-time error (type mismatch, overflow) counts as false."""
        try:
            return bool(self.root.evaluate(record, slots))
        except EvalError:
            return False

    def paths(self) -> list[tuple]:
        """Every field path the expression reads, in source order."""
        return [node.keys for node in ast.walk(self.root) if isinstance(node, ast.Path)]

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"


def compile_expr(text: object, *, allow_window: bool = False) -> Expr:
    """Parse `text`; raise ExprError (with pos/line/col inside `text`) on any problem."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ExprError(f"expected an expression string, got {type(text).__name__}", pos=0, text="")
    text = str(text)
    root = _Parser(text, allow_window).parse()
    _fold_constants(text, root)
    return Expr(text, root)


def _fold_constants(text: str, root: ast.Node) -> None:
    """Evaluate record-independent arithmetic now, so `(9 ** 64) ** 64` fails lint, not at run time."""
    for node in ast.walk(root):
        if isinstance(node, ast.Binary) and node.op in ("**", "*", "+"):
            if all(not isinstance(n, ast.Path | ast.Call) for n in ast.walk(node)):
                try:
                    node.evaluate({}, None)
                except EvalError as exc:
                    raise _error(text, node.pos, str(exc)) from None
