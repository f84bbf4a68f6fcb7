"""Packed normalized records: events of one key and raw partition travel together, and
the store gets every event back with its source."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
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
