"""What every decoder shares: the record shape it returns and the context it reads.

A decoder turns one raw Kafka value into a list of `Decoded` records. Each carries
the canonical kind it should become ("log", "metric", "security", or None for the
kind of the stream it arrived on), the fields under their usual names (normalize.py
maps aliases), and attributes that are already final (string values, kept as given,
never mistaken for canonical fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from schemas.errors import DecodeError
from streams.ingest.timeparse import TimeParser

# The body of a double-quoted string with backslash escapes, as an unrolled loop.
# Python's `re` spends ~3x longer on the textbook `(?:[^"\\]|\\.)*`, one alternation
# per character; this matches the same strings the same greedy way (an escape pair
# tokenizes uniquely, so no other end of the body is ever possible).
QUOTED_BODY = r'[^"\\]*(?:\\.[^"\\]*)*'
# A date memo of DecodeContext is emptied beyond this many entries (a long-lived context).
DATES_LIMIT = 100_000


class Decoded(NamedTuple):
    kind: str | None
    fields: dict
    attributes: dict | None = None
    labels: dict | None = None


@dataclass
class DecodeContext:
    """Per-batch state a decoder may need.

    The date memos map a date as a line spells it to epoch seconds, one memo per date
    style: the lines of a batch repeat a handful of seconds, and TimeParser reads a
    year-less syslog date or an access log date in ~3 µs, ten times the lookup. A
    syslog date depends on `observed` and `times`, fixed for a context."""

    observed: float
    times: TimeParser
    stream: str = "logs"
    auth_as_security: bool = True
    syslog_dates: dict[str, float] = field(default_factory=dict)
    access_dates: dict[str, float] = field(default_factory=dict)


def utf8(value: bytes) -> str:
    """Text of a record, without its line ending. Invalid UTF-8 is a dead letter."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("invalid_utf8", f"byte {exc.start}: {exc.reason}") from None
    if text[-1:] == "\n":
        text = text[:-2] if text[-2:] == "\r\n" else text[:-1]
    if text[:1] == "\ufeff":
        text = text[1:]
    return text
