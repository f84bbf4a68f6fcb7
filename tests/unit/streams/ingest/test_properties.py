"""Properties of the decoders and of the whole ingest pipeline, on arbitrary input and
on input seeded with card numbers and secrets:

- a decoder returns events or raises DecodeError (a dead-letter reason), nothing else;
- Ingestor.process never raises, and every record lands as events or as exactly one
  dead letter;
- no Luhn-valid 13-19 digit number survives in any string written anywhere (keys and
  values, events, signals and dead letters), generated ids and W3C trace/span ids
  aside. The check below is written independently of redact.py.
"""

from __future__ import annotations

import json
import re

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import source
from schemas.errors import DecodeError
from schemas.topics import Topics
from streams.ingest.decoders import FORMATS
from streams.ingest.decoders.base import DecodeContext
from streams.ingest.pipeline import IngestConfig, Ingestor
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.corpus import OBSERVED

TOPICS = Topics()
PROPS = settings(max_examples=int(__import__("os").environ.get("SLUICE_PROP_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
ID_FIELDS = ("event_id", "signal_id")
W3C = re.compile(r"(?=[0-9]*[a-f])[0-9a-f]{16}(?:[0-9a-f]{16})?")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_like(text: str) -> list[str]:
    """Every window of whole digit groups, 13-19 digits long, Luhn-valid, inside a run
    of digits separated by single spaces or dashes."""
    found = []
    i, n = 0, len(text)
    while i < n:
        if not text[i].isascii() or not text[i].isdigit():
            i += 1
            continue
        groups, j = [], i
        while True:
            k = j
            while k < n and text[k] in "0123456789":
                k += 1
            groups.append(text[j:k])
            if k + 1 < n and text[k] in " -" and text[k + 1] in "0123456789":
                j = k + 1
            else:
                break
        i = k
        for a in range(len(groups)):
            for b in range(a, len(groups)):
                digits = "".join(groups[a:b + 1])
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    found.append(digits)
    return found


def strings_of(obj, key: str = ""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            if k not in ID_FIELDS and not (k in ("trace_id", "span_id") and isinstance(v, str) and W3C.fullmatch(v)):
                yield from strings_of(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_of(v, key)
    elif isinstance(obj, str):
        yield obj


def assert_no_card_numbers(out) -> None:
    for topic, items in out.by_topic.items():
        for key, value, src in items:
            for s in [key.decode(), source.parse(src)[0] if src else "", *strings_of(orjson.loads(value))]:
                assert not card_like(s), f"{topic}: card number in {s!r}"


# -- strategies ------------------------------------------------------------------
def _with_check_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError


PANS = st.builds(_with_check_digit, st.text("0123456789", min_size=12, max_size=18))
SEPARATED = st.builds(
    lambda pan, seps: "".join(c + (seps[i % len(seps)] if i % 4 == 3 and i < len(pan) - 1 else "")
                              for i, c in enumerate(pan)),
    PANS, st.lists(st.sampled_from(["", " ", "-"]), min_size=1, max_size=4))
WORDS = st.sampled_from(["password", "api_key", "token", "order", "msg", "pan", "Bearer", "user", "x"])
FRAGMENTS = st.one_of(st.text(max_size=12), SEPARATED, WORDS, st.sampled_from([" ", "=", ":", '"', "\\", "\n", "2025"]))
TEXT = st.lists(FRAGMENTS, max_size=6).map("".join)
INT_PANS = st.builds(_with_check_digit, st.text("0123456789", min_size=12, max_size=17)).map(int)  # JSON int64
SCALARS = st.one_of(TEXT, st.integers(-2 ** 63, 2 ** 63 - 1), st.floats(allow_nan=False, allow_infinity=False),
                    st.booleans(), st.none(), INT_PANS)
JSON_OBJECTS = st.dictionaries(st.one_of(WORDS, TEXT, st.sampled_from(["ts", "level", "service", "host", "name",
                                                                         "value", "labels", "event_id", "trace_id"])),
                               st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                             st.dictionaries(WORDS, inner, max_size=3)),
                                            max_leaves=6), max_size=6)


def _lines(text: str) -> str:
    return text.replace("\n", " ")


RECORDS = st.one_of(
    st.binary(max_size=200),
    JSON_OBJECTS.map(orjson.dumps),
    JSON_OBJECTS.map(lambda d: json.dumps(d, ensure_ascii=True).encode()),  # \u escapes everywhere
    st.lists(JSON_OBJECTS, max_size=3).map(orjson.dumps),
    TEXT.map(lambda t: f"<13>Dec 31 23:59:59 host app[1]: {_lines(t)}".encode()),
    TEXT.map(lambda t: f"<165>1 2025-12-31T23:59:59Z h app - - [x@1 k=\"{t.replace(chr(34), '')}\"] {t}".encode()),
    st.tuples(TEXT, SEPARATED).map(lambda p: f'ts=2025-12-31T23:59:59Z msg="{_lines(p[0])}" card={p[1]}'.encode()),
    st.tuples(TEXT, SEPARATED).map(lambda p: f"CEF:0|v|p|1|s|n|5|msg={_lines(p[0])} suser={p[1]} "
                                             f"cs1Label=password cs1={p[1]}".encode()),
    st.tuples(SEPARATED, st.floats(allow_nan=True)).map(
        lambda p: f'# TYPE m gauge\nm{{a="{p[0]}"}} {p[1]}\n'.encode()),
    st.tuples(TEXT, PANS).map(lambda p: f'1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET /{p[1]} HTTP/1.1" 200 5 '
                                        f'"{_lines(p[0])}" "-"'.encode()),
    PANS.map(lambda p: orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": p}, "attributes": [{"key": "password", "value": {"intValue": p}}]}]}]}]})),
    st.floats(min_value=1e12, max_value=1e19).map(lambda f: f'{{"v": {f!r}, "w": {f:e}}}'.encode()),
)
STREAMS = st.sampled_from(["logs", "metrics", "security"])


# -- properties --------------------------------------------------------------------
@PROPS
@given(st.sampled_from(sorted(FORMATS)), RECORDS, STREAMS)
def test_decoders_return_events_or_raise_decode_error(fmt, value, stream):
    ctx = DecodeContext(OBSERVED, TimeParser(), stream=stream)
    try:
        decoded = FORMATS[fmt](value, ctx)
    except DecodeError as exc:
        assert exc.reason in ("decode_error", "invalid_utf8", "schema_violation", "empty")
    else:
        assert isinstance(decoded, list)


@PROPS
@given(st.lists(st.tuples(RECORDS, STREAMS), min_size=1, max_size=8))
def test_every_record_lands_or_is_dead_lettered_and_no_card_survives(records):
    ingestor = Ingestor(TOPICS, IngestConfig())
    batch = [(value, TOPICS.raw(stream), 0, i) for i, (value, stream) in enumerate(records)]
    out = ingestor.process(batch, OBSERVED, keep_events=True)
    dead = [orjson.loads(v)["source_offset"] for _, v, _ in out.by_topic.get(TOPICS.dlq, [])]
    assert sum(out.dropped.values()) == len(dead) == len(set(dead))
    for i, _ in enumerate(records):  # one record at a time: its events, or one dead letter
        alone = ingestor.process([batch[i]], OBSERVED, keep_events=True)
        assert bool(alone.events) != bool(alone.dropped), (batch[i], alone.dropped)
        assert (i in dead) == bool(alone.dropped)
    assert_no_card_numbers(out)


@PROPS
@given(st.lists(st.tuples(RECORDS, STREAMS), min_size=1, max_size=6))
def test_no_card_survives_without_pyarrow_either(records):
    ingestor = Ingestor(TOPICS, IngestConfig())
    ingestor.precheck.arrow = False
    out = ingestor.process([(v, TOPICS.raw(s), 0, i) for i, (v, s) in enumerate(records)], OBSERVED)
    assert_no_card_numbers(out)


def test_the_checker_itself_finds_cards():
    assert card_like("x 4111 1111 1111 1111 y") == ["4111111111111111"]
    assert card_like("41111111111111111111") == []
    assert card_like("2025 4111-1111-1111-1111") == ["4111111111111111"]
