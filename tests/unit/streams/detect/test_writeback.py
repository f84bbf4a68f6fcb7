from __future__ import annotations

import random

import pytest

from streams.detect.loader import load_path
from streams.detect.ruletest import run_case
from streams.detect.writeback import WriteBack
from tests.unit.streams.detect.test_engine import LIBRARY, JsonTable


class RecordBoundaries(WriteBack):
    """Flushes after a random number of engine operations, as the detect app does after
    each input record (which holds any number of items)."""

    def __init__(self, table, rng: random.Random):
        super().__init__(table)
        self.rng = rng

    def _maybe_flush(self):
        if self.rng.random() < 0.3:
            self.flush()

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._maybe_flush()

    def __delitem__(self, key):
        super().__delitem__(key)
        self._maybe_flush()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_library_cases_give_the_same_alerts_and_states_through_a_write_back(seed):
    rng = random.Random(seed)
    compared = plain_writes = buffered_writes = 0
    for loaded in load_path(LIBRARY).rules:
        for case in loaded.model.tests:
            direct = JsonTable()
            want = run_case(loaded, case, states=direct)
            table = JsonTable()
            states = RecordBoundaries(table, rng)
            assert run_case(loaded, case, states=states) == want, (loaded.id, case.name)
            states.flush()
            assert table.data == direct.data, (loaded.id, case.name)
            compared += len(want)
            plain_writes += direct.writes
            buffered_writes += table.writes
    assert compared > 40
    assert buffered_writes < plain_writes  # the point of it: fewer changelog records


def test_reads_see_pending_writes_and_deletes():
    table = JsonTable()
    table["a"] = {"n": 1}
    table["b"] = {"n": 2}
    states = WriteBack(table)
    states["a"] = {"n": 10}
    del states["b"]
    states["c"] = {"n": 3}
    assert states["a"] == {"n": 10} and states.get("b") is None and "b" not in states and "c" in states
    assert sorted(states) == ["a", "c"] and len(states) == 2
    assert sorted(states.items()) == [("a", {"n": 10}), ("c", {"n": 3})]
    with pytest.raises(KeyError):
        del states["b"]
    assert table.data.keys() == {"a", "b"}  # nothing reached the table yet
    assert states.flush() == 3
    assert sorted(table.data) == ["a", "c"] and table["a"] == {"n": 10}
    assert states.changed == {}
    states["a"] = {"n": 99}
    states.discard()
    assert states["a"] == {"n": 10} and states.flush() == 0


class _Buffer:
    """What changelog_handed_over reads of faust's ProducerBuffer: a size that its
    flush brings down, one message per call (as flush_atmost gives up after 0.1 s)."""

    def __init__(self, size: int, running: bool = True):
        self.size, self.running, self.flushes = size, running, 0

    async def flush(self) -> None:
        if not self.running:
            raise RuntimeError("Cannot flush: Producer not Running")
        self.flushes += 1
        self.size -= 1


def test_a_record_waits_until_its_changelog_left_the_buffer():
    import asyncio
    from types import SimpleNamespace

    from streams.detect.app import changelog_handed_over
    buffer = _Buffer(3)
    asyncio.run(changelog_handed_over(SimpleNamespace(producer=SimpleNamespace(buffer=buffer))))
    assert buffer.size == 0 and buffer.flushes == 3
    stopped = _Buffer(2, running=False)
    asyncio.run(changelog_handed_over(SimpleNamespace(producer=SimpleNamespace(buffer=stopped))))
    assert stopped.size == 2  # a stopped producer sends nothing: no wait, no error
