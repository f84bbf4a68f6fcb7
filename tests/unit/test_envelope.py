from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import envelope


@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=4), max_size=60),
       st.integers(min_value=1, max_value=10), st.integers(min_value=1, max_value=200))
def test_pack_keeps_every_item_in_order_within_the_limits(items, max_items, max_bytes):
    encoded = [orjson.dumps(i) for i in items]
    records = envelope.pack(encoded, max_items=max_items, max_bytes=max_bytes)
    unpacked = [item for record in records for item in envelope.unpack(record)]
    assert unpacked == items
    for record in records:
        n = len(envelope.unpack(record))
        assert 1 <= n <= max_items
        assert n == 1 or len(record) <= max_bytes + 2  # an oversized item travels alone


def test_a_single_item_record_is_read_as_one_item():
    assert envelope.unpack(b'{"_tick": 1.5}') == [{"_tick": 1.5}]
    assert envelope.pack([]) == []
    with pytest.raises(orjson.JSONDecodeError):
        envelope.unpack(b"[{")
