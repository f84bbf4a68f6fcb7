"""Packed normalized records: events of one key and raw partition travel together, and
the store gets every event back with its source."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import packed, source
from streams.store import _events_of


class _Msg:
    def __init__(self, headers):
        self._headers = headers

    def headers(self):
        return self._headers


def _items(spec):
    """(key, raw topic, raw partition, offset, index) -> ingest's (key, value, source) triples."""
    return [(key, orjson.dumps({"n": n, "msg": "a\nb"}), source.ref(topic, part, off, idx))
            for n, (key, topic, part, off, idx) in enumerate(spec)]


def _unpacked(records):
    """Every event of the records, with its key and source, as the store reads them."""
    out = []
    for key, value, headers in records:
        src, offsets, indexes, lines = _events_of(_Msg(headers), value.decode())
        assert packed.events_in(headers) == len(lines)
        out += [(key, orjson.loads(line)["n"], (src, o, i)) for line, o, i in zip(lines, offsets, indexes, strict=True)]
    return out


@given(st.lists(st.tuples(st.sampled_from([b"t|a", b"t|b", None]), st.sampled_from(["raw.logs", "raw.metrics"]),
                          st.integers(0, 2), st.integers(0, 2**40), st.integers(0, 5)), max_size=60))
def test_every_event_comes_back_once_with_its_key_and_source(spec):
    records = packed.pack(_items(spec))
    got = _unpacked(records)
    want = [(key, n, (f"{t}/{p}", o, i)) for n, (key, t, p, o, i) in enumerate(spec)]
    assert sorted(got, key=lambda e: e[1]) == want
    # within a record, events keep their order (the store's marks rely on it)
    for _, value, _ in records:
        ns = [orjson.loads(line)["n"] for line in value.split(b"\n")]
        assert ns == sorted(ns)


def test_events_of_one_key_and_raw_partition_share_a_record():
    spec = [(b"k1", "raw.logs", 0, 10, 0), (b"k2", "raw.logs", 0, 11, 0), (b"k1", "raw.logs", 0, 12, 0),
            (b"k1", "raw.logs", 1, 5, 0), (b"k1", "raw.logs", 0, 12, 1)]
    records = packed.pack(_items(spec))
    assert sorted((key, packed.events_in(h)) for key, _, h in records) == [(b"k1", 1), (b"k1", 3), (b"k2", 1)]


def test_a_single_event_is_its_json_with_the_one_event_source_header():
    (key, value, headers), = packed.pack(_items([(b"k", "raw.logs", 3, 7, 2)]))
    assert orjson.loads(value)["n"] == 0 and headers == [(source.HEADER, source.ref("raw.logs", 3, 7, 2))]


def test_an_event_without_a_source_travels_alone_without_a_header():
    assert packed.pack([(b"k", b"{}", None), (b"k", b"{}", None)]) == [(b"k", b"{}", None), (b"k", b"{}", None)]


def test_records_are_cut_at_the_event_and_byte_limits(monkeypatch):
    monkeypatch.setattr(packed, "MAX_EVENTS", 3)
    records = packed.pack(_items([(b"k", "raw.logs", 0, i, 0) for i in range(7)]))
    assert [packed.events_in(h) for _, _, h in records] == [3, 3, 1]
    monkeypatch.setattr(packed, "MAX_BYTES", 50)
    big = [(b"k", b"x" * 30, source.ref("raw.logs", 0, i)) for i in range(3)] + [
        (b"k", b"y" * 80, source.ref("raw.logs", 0, 3))]
    assert [len(v) for _, v, _ in packed.pack(big)] == [30, 30, 30, 80]


@pytest.mark.parametrize("header", [b"", b"\x00\x00\x00\x00raw/0", b"\x00\x00\x00\x02" + b"\x00" * 24,
                                    b"\x00\x00\x00\x01" + b"\x00" * 12 + b"\xff"])
def test_a_malformed_sources_header_raises_value_error(header):
    with pytest.raises(ValueError):
        packed.sources(header)


def test_a_record_whose_header_does_not_match_its_events_lands_without_sources():
    (key, value, headers), = packed.pack(_items([(b"k", "raw.logs", 0, 1, 0), (b"k", "raw.logs", 0, 2, 0)]))
    src, offsets, indexes, lines = _events_of(_Msg(headers), value.decode() + "\n{}")
    assert (src, offsets, indexes, len(lines)) == ("", (0, 0, 0), (0, 0, 0), 3)
    assert _events_of(_Msg([(packed.SOURCES, b"junk")]), "{}\n{}")[:3] == ("", (0, 0), (0, 0))


def test_marks_find_the_first_fresh_event_of_a_record_that_straddles_them():
    marks = source.Marks()
    assert marks.first_fresh("k", (10, 10, 11), (0, 1, 0)) == 0
    assert marks.first_fresh("k", (10, 11, 12), (1, 0, 0)) == 2  # a replay cut differently
    assert marks.first_fresh("k", (11, 12), (0, 0)) == 2 and marks.table["k"] == (12, 0)
    assert marks.first_fresh("j", (1,), (0,)) == 0


needs_c = pytest.mark.skipif(packed._packed is None, reason="streams.ingest._packed is not built (no C compiler)")

_SRCS = st.builds(source.ref, st.sampled_from(["raw.logs", "r"]), st.integers(0, 2), st.integers(0, 2**64 - 1),
                  st.integers(0, 2**32 - 1))
_ITEMS = st.lists(st.tuples(st.sampled_from([None, b"", b"t|a", b"t|b", b"tenant|a-longer-service-name"]),
                            st.binary(max_size=40), st.none() | _SRCS | st.binary(min_size=12, max_size=16)),
                  max_size=80)


def _c_pack(items, max_events=packed.MAX_EVENTS, max_bytes=packed.MAX_BYTES):
    return packed._packed.pack(items, max_events, max_bytes, source.HEADER, packed.SOURCES)


@needs_c
@settings(max_examples=300, deadline=None)
@given(_ITEMS, st.integers(-1, 6), st.integers(-1, 120))
def test_the_c_pack_gives_the_records_of_the_python_one(items, max_events, max_bytes):
    want = packed._pack_python(items, max_events, max_bytes)
    got = _c_pack(items, max_events, max_bytes)
    assert got == want
    assert _c_pack(tuple(items), max_events, max_bytes) == want
    for (_, _, h), (_, _, w) in zip(got, want, strict=True):  # a one-event record: the event's own source
        assert w is None or w[0][0] != source.HEADER or h[0][1] is w[0][1]
    assert packed.pack(items) == packed._pack_python(items)


@needs_c
def test_the_c_pack_takes_limits_beyond_a_machine_word():
    items = _items([(b"k", "raw.logs", 0, i, 0) for i in range(5)])
    for max_events, max_bytes in [(2**70, 2**70), (-(2**70), 2**70), (3, -(2**70))]:
        assert _c_pack(items, max_events, max_bytes) == packed._pack_python(items, max_events, max_bytes)


@needs_c
@pytest.mark.parametrize("items", [
    [[b"k", b"{}", None]],  # an item that is no tuple
    [(b"k", b"{}")],
    [(b"k", "{}", None)],  # a value that is no bytes
    [(b"k", bytearray(b"{}"), source.ref("raw.logs", 0, 1))],
    [("k", b"{}", source.ref("raw.logs", 0, 1))],
    [(b"k", b"{}", "raw.logs")],
    ((b"k", b"{}", None) for _ in range(2)),  # not a list or tuple
    None,
])
def test_the_c_pack_refuses_what_it_does_not_take_with_type_error(items):
    with pytest.raises(TypeError):
        _c_pack(items)


@needs_c
def test_the_c_pack_refuses_a_short_source_and_pack_does_what_the_python_does():
    items = [(b"k", b"{}", b"\x00" * 5), (b"k", b"{}", b"\x01" * 5)]
    with pytest.raises(ValueError):
        _c_pack(items)
    with pytest.raises(TypeError):
        _c_pack([], "3", 10)
    assert packed.pack(items) == packed._pack_python(items)
    for odd in ([[b"k", b"{}", None], (b"k", b"{}", source.ref("raw.logs", 0, 1))], [(1, b"{}", b"x" * 12)]):
        assert packed.pack(odd) == packed._pack_python(odd)
    assert packed.pack(iter(_items([(b"k", "raw.logs", 0, 1, 0)]))) == packed.pack(_items([(b"k", "raw.logs", 0, 1, 0)]))
    with pytest.raises(TypeError):  # the Python one fails on it too: b"\n".join of a str
        packed.pack([(b"k", "{}", source.ref("raw.logs", 0, 1)), (b"k", "{}", source.ref("raw.logs", 0, 2))])


def test_pure_python_asks_nothing_of_the_c_pack(monkeypatch):
    class _Refuses:
        def pack(self, *args):
            raise AssertionError("the C pack ran")

    monkeypatch.setenv("SLUICE_PURE_PYTHON", "1")
    monkeypatch.setattr(packed, "_packed", _Refuses())
    items = _items([(b"k", "raw.logs", 0, 1, 0), (b"k", "raw.logs", 0, 2, 0)])
    assert packed.pack(items) == packed._pack_python(items)
