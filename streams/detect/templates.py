"""`{{ field.path | formatter(arg) }}` templates for alert summaries and descriptions.

A placeholder holds a field path (the same paths as expressions: `group.provider`,
`values.ratio`, `event.attributes["http.method"]`) and optional formatters. There
are no expressions, loops or calls into Python objects, so an annotation can
never do more than look values up in the alert context and format them.

Formatters: `round(n)`, `pct(n)` (0.053 -> "5.3%"), `duration` (seconds -> "5m"),
`upper`, `lower`, `truncate(n)`, `default("text")`, `join(", ")`.
A missing value renders as an empty string (use `default`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streams.detect import expr_ast as ast
from streams.detect.durations import format_duration
from streams.detect.expr import Token, compile_expr, tokenize
from streams.detect.expr_ast import ExprError, to_number

MAX_TEMPLATE = 8192
MAX_OUTPUT = 4096


class TemplateError(ValueError):
    def __init__(self, message: str, pos: int):
        self.message = message
        self.pos = pos
        super().__init__(f"at offset {pos}: {message}")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    return str(value)


def _round(value: object, digits: object = 2) -> object:
    n = to_number(value)
    return value if n is None else round(n, int(digits))  # type: ignore[call-overload]


def _pct(value: object, digits: object = 1) -> object:
    n = to_number(value)
    return value if n is None else f"{n * 100:.{int(digits)}f}%"  # type: ignore[call-overload]


def _duration(value: object) -> object:
    n = to_number(value)
    return value if n is None else format_duration(float(n))


def _truncate(value: object, length: object = 80) -> object:
    text = _text(value)
    limit = int(length)  # type: ignore[call-overload]
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _default(value: object, fallback: object = "") -> object:
    return fallback if value is None or value == "" else value


def _join(value: object, sep: object = ", ") -> object:
    return str(sep).join(_text(v) for v in value) if isinstance(value, list) else value


# name -> (function, max number of literal arguments, argument types)
FORMATTERS: dict[str, tuple[Callable, int, tuple[type, ...]]] = {
    "round": (_round, 1, (int,)),
    "pct": (_pct, 1, (int,)),
    "duration": (_duration, 0, ()),
    "upper": (lambda v: _text(v).upper(), 0, ()),
    "lower": (lambda v: _text(v).lower(), 0, ()),
    "truncate": (_truncate, 1, (int,)),
    "default": (_default, 1, (str,)),
    "join": (_join, 1, (str,)),
}


class Template:
    __slots__ = ("text", "parts")

    def __init__(self, text: str, parts: list):
        self.text = text
        self.parts = parts

    def render(self, context: Mapping) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            path, formatters = part
            value = ast.resolve(context, path.parts)
            for fn, args in formatters:
                value = fn(value, *args)
            out.append(_text(value))
        rendered = "".join(out)
        return rendered if len(rendered) <= MAX_OUTPUT else rendered[: MAX_OUTPUT - 1] + "…"

    def paths(self) -> list[tuple]:
        return [part[0].keys for part in self.parts if not isinstance(part, str)]


def compile_template(text: object) -> Template:
    if not isinstance(text, str):
        raise TemplateError(f"expected a string, got {type(text).__name__}", 0)
    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"template longer than {MAX_TEMPLATE} characters", MAX_TEMPLATE)
    parts: list = []
    pos = 0
    while pos < len(text):
        start = text.find("{{", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        if start > pos:
            parts.append(text[pos:start])
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateError("unclosed '{{' (missing '}}')", start)
        parts.append(_placeholder(text[start + 2 : end], start + 2))
        pos = end + 2
    return Template(text, parts)


def _placeholder(body: str, offset: int) -> tuple:
    segments = _split_pipes(body)
    head_start, head = segments[0]
    if not head.strip():
        raise TemplateError("empty placeholder: write a field path, e.g. {{ group.provider }}", offset)
    try:
        node = compile_expr(head).root
    except ExprError as exc:
        raise TemplateError(exc.message, offset + head_start + exc.pos) from None
    if not isinstance(node, ast.Path):
        indent = len(head) - len(head.lstrip())
        raise TemplateError("a placeholder holds a field path and formatters only, not an expression", offset + head_start + indent)
    formatters = []
    for seg_start, segment in segments[1:]:
        try:
            tokens = tokenize(segment)[:-1]
        except ExprError as exc:
            raise TemplateError(exc.message, offset + seg_start + exc.pos) from None
        formatters.append(_formatter(tokens, offset + seg_start))
    return node, formatters


def _split_pipes(body: str) -> list[tuple[int, str]]:
    """Split on '|' outside string literals; each piece keeps its offset for error positions."""
    pieces: list[tuple[int, str]] = []
    start, quote, i = 0, "", 0
    while i < len(body):
        ch = body[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "|":
            pieces.append((start, body[start:i]))
            start = i + 1
        i += 1
    pieces.append((start, body[start:]))
    return pieces


def _formatter(tokens: list[Token], offset: int) -> tuple[Callable, tuple]:
    if not tokens or tokens[0].kind != "NAME":
        pos = offset + (tokens[0].pos if tokens else 0)
        raise TemplateError("expected a formatter name after '|'", pos)
    name, pos = str(tokens[0].value), offset + tokens[0].pos
    if name not in FORMATTERS:
        raise TemplateError(f"unknown formatter {name!r} (known: {', '.join(sorted(FORMATTERS))})", pos)
    fn, max_args, types = FORMATTERS[name]
    args: list = []
    rest = tokens[1:]
    if rest:
        if not (rest[0].value == "(" and rest[-1].value == ")"):
            raise TemplateError(f"expected '(' after formatter {name!r}", offset + rest[0].pos)
        inner = [tok for tok in rest[1:-1] if tok.value != ","]
        for tok, want in zip(inner, types, strict=False):
            if tok.kind not in ("NUM", "STR") or not isinstance(tok.value, want):
                raise TemplateError(f"argument of {name}() must be a {want.__name__} literal", offset + tok.pos)
            args.append(tok.value)
        if len(inner) > max_args:
            raise TemplateError(f"{name}() takes at most {max_args} argument(s)", pos)
    return fn, tuple(args)
