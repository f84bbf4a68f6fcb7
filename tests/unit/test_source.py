"""Raw-source references and the marks that drop a batch ingest wrote twice."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import source
from streams.detect.app import _replayed
from streams.detect.writeback import WriteBack


@given(st.text(min_size=1).filter(lambda t: "\x00" not in t), st.integers(0, 2**31), st.integers(0, 2**62),
       st.integers(0, 2**16))
def test_ref_parses_back(topic, partition, offset, index):
    assert source.parse(source.ref(topic, partition, offset, index)) == (f"{topic}/{partition}", offset, index)


@pytest.mark.parametrize("bad", [b"", b"raw.logs", b"raw.logs/1/x/0", b"raw.logs/1/2/"])
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
    ref = source.ref("p.raw.security", 1, 42).decode()
    assert not _replayed(marks, ref) and _replayed(marks, ref)
    seen.discard()  # the record failed: a restarted agent evaluates it again
    assert not _replayed(marks, ref)
    seen.flush()
    assert table == {"_sources/p.raw.security/1": (42, 0)}
    assert _replayed(marks, ref)
    assert not _replayed(marks, "not a reference") and not _replayed(marks, 17)


def test_rule_engine_leaves_source_marks_in_its_table_alone():
    from streams.detect.engine import Engine
    from streams.detect.loader import default_rules_path
    from streams.detect.reload import RuleSet

    states = {"_sources/p.raw.security/1": [42, 0]}
    engine = Engine(RuleSet(default_rules_path()).rules, states=states)
    engine.tick(1_767_225_600.0)
    engine.tick(1_767_225_600.0 + 10 * 86400)  # far past every idle horizon
    assert states["_sources/p.raw.security/1"] == [42, 0]
