"""logfmt: `ts=2024-05-01T12:00:00Z level=info msg="card declined" service=payments`.

Values are bare (up to the next space) or double-quoted with backslash escapes; a
key without `=` is a flag with value "true" (the Heroku / go-kit convention).

`decode` in C (`_textlog.c`, built when a compiler is at hand) takes over unless
SLUICE_PURE_PYTHON=1 (read at import): the same records and errors, several times
faster, on every line `_split` reads (no backslash, quotes only around values). The
Python function (`decode_py`) stays the reference and the fallback for the others
(escapes, stray quotes, invalid UTF-8, no pair). The C form reuses the key objects of
the keys it has seen, so the records of one emitter share their keys."""

from __future__ import annotations

import re

from schemas.errors import DecodeError
from streams.ingest import accel
from streams.ingest.decoders.base import QUOTED_BODY, DecodeContext, Decoded, utf8

_textlog = accel.load("_textlog")

_PAIR = re.compile(r'([^\s="]+)(=(?:"' + QUOTED_BODY + r'"?|\S*))?')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)")
DETECT = re.compile(r'[A-Za-z_@][\w.\-/@]*=(?:"|[^\s=]|\s|$)')


def _unquote(raw: str) -> str:
    body = raw[1:-1] if len(raw) >= 2 and raw[-1] == '"' else raw[1:]
    if "\\" not in body:
        return body
    # An unknown escape keeps its backslash: text is never invented, only unescaped.
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def parse(text: str) -> dict[str, str]:
    """Pairs in order; a key seen twice keeps its last value. Stray characters between
    pairs (an unmatched quote) are skipped, as logfmt readers do."""
    fields = _split(text)
    if fields is not None:
        return fields
    fields = {}
    for key, raw in _PAIR.findall(text):
        if not raw:
            fields[key] = "true"
        elif raw[1:2] == '"':
            fields[key] = _unquote(raw[1:])
        else:
            fields[key] = raw[1:]
    return fields


def _split(text: str) -> dict[str, str] | None:
    """What _PAIR finds, by splitting at quotes and then at blanks, for a line whose
    every quote opens right after `key=` or closes a value, with no escapes; else None.

    A third cheaper than the regex. Equivalent there: quoted values hold no quote,
    so they are the odd chunks between quotes; outside them, _PAIR matches blank-
    separated tokens whole (`\\s` and str.split() agree on blanks), a token `k=v...`
    with the value after its first `=`, one without `=` as a flag. A token starting
    with `=` (which _PAIR would cut) takes the regex."""
    if "\\" in text:
        return None
    chunks = text.split('"')
    last = len(chunks) - 1
    if last & 1:
        return None  # an unmatched quote
    fields: dict[str, str] = {}
    for i in range(0, last + 1, 2):
        tokens = chunks[i].split()
        if i < last:
            if chunks[i][-1:] != "=":
                return None  # a quote not opening a value
            quoted_key = tokens.pop()[:-1]
            if not quoted_key or "=" in quoted_key:
                return None
        for token in tokens:
            key, eq, value = token.partition("=")
            if not key:
                return None
            fields[key] = value if eq else "true"
        if i < last:
            fields[quoted_key] = chunks[i + 1]
    return fields


def decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    text = utf8(value)
    if "=" not in text:
        raise DecodeError("decode_error", "logfmt: no key=value pair")
    fields = parse(text)
    if not fields:
        raise DecodeError("empty", "logfmt: no fields")
    return [Decoded(None, fields)]


decode_py = decode


def accelerated_decoder():
    """decode in C, falling back on decode_py; None when not built."""
    return None if _textlog is None else _textlog.LogfmtDecoder(decode_py, Decoded)


if accel.wanted():
    decode = accelerated_decoder() or decode_py
