"""Raw-source references and the marks that drop a batch ingest wrote twice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import source
from streams.detect.app import _replayed
from streams.detect.writeback import WriteBack


@given(st.text(min_size=1), st.integers(0, 2**31), st.integers(0, 2**63), st.integers(0, 2**32 - 1))
def test_ref_parses_back(topic, partition, offset, index):
    assert source.parse(source.ref(topic, partition, offset, index)) == (f"{topic}/{partition}", offset, index)


@pytest.mark.parametrize("bad", [b"", b"short", b"\x00" * 12, b"\x00" * 12 + b"\xff\xfe"])
def test_a_malformed_ref_raises_value_error(bad):
    with pytest.raises(ValueError):
        source.parse(bad)


def test_marks_drop_what_is_at_or_below_the_highest_source_per_key():
    marks = source.Marks()
    first_pass = [("a/0", 10, 0), ("a/0", 10, 1), ("a/0", 11, 0), ("b/0", 3, 0)]
    assert [marks.replayed(*s) for s in first_pass] == [False] * 4
    # The replay of the batch (a prefix of it was exposed), then what it adds.
    assert [marks.replayed(*s) for s in [("a/0", 10, 0), ("a/0", 10, 1), ("a/0", 11, 0), ("a/0", 12, 0)]] == [
        True, True, True, False]
    assert marks.replayed("b/0", 3, 0) and not marks.replayed("b/1", 3, 0)


def test_marks_read_back_from_json_compare_alike():
    table = {"a/0": [10, 1]}  # a faust table recovered from its changelog holds lists
    marks = source.Marks(table)
    assert marks.replayed("a/0", 10, 0) and marks.replayed("a/0", 10, 1) and not marks.replayed("a/0", 10, 2)


def test_detect_skips_a_replayed_item_and_forgets_marks_of_an_unfinished_record():
    table: dict = {}
    seen = WriteBack(table)
    marks = source.Marks(seen)
    src = ["p.raw.security/1", 42, 0]  # an item's _src, as JSON gives it back
    assert not _replayed(marks, src) and _replayed(marks, src)
    seen.discard()  # the record failed: a restarted agent evaluates it again
    assert not _replayed(marks, src)
    seen.flush()
    assert table == {"_sources/p.raw.security/1": (42, 0)}
    assert _replayed(marks, src)
    for odd in ("p.raw.security/1/42/0", 17, None, ["p.raw.security/1", "42", 0], ["p.raw.security/1", 42]):
        assert not _replayed(marks, odd)


def test_rule_engine_leaves_source_marks_in_its_table_alone():
    from streams.detect.engine import Engine
    from streams.detect.loader import default_rules_path
    from streams.detect.reload import RuleSet

    states = {"_sources/p.raw.security/1": [42, 0]}
    engine = Engine(RuleSet(default_rules_path()).rules, states=states)
    engine.tick(1_767_225_600.0)
    engine.tick(1_767_225_600.0 + 10 * 86400)  # far past every idle horizon
    assert states["_sources/p.raw.security/1"] == [42, 0]
