"""_messages.c (a consumed batch unpacked, the partition runs of its events) equals the Python references."""

import pytest
from confluent_kafka import KafkaError, Message
from hypothesis import given
from hypothesis import strategies as st

from streams import runtime

pytestmark = pytest.mark.skipif(runtime._messages is None, reason="the _messages C module is not built")

message = st.builds(
    lambda topic, partition, offset, value, failed: Message(
        topic=topic, partition=partition, offset=offset, value=value,
        error=KafkaError(KafkaError._TRANSPORT) if failed else None),
    st.sampled_from(["raw.logs", "raw.metrics", "r"]), st.integers(0, 3), st.integers(0, 2**40),
    st.one_of(st.none(), st.binary(max_size=20)), st.booleans())


@given(st.lists(message, max_size=60))
def test_c_unpacks_a_batch_as_the_reference_does(msgs):
    records, errors, counts, top = runtime._messages.unpack(msgs)
    ref_records, ref_errors, ref_counts, ref_top = runtime._unpack_python(msgs)
    assert records == ref_records and counts == ref_counts and top == ref_top
    assert [e.code() for e in errors] == [e.code() for e in ref_errors]
    assert list(top) == list(ref_top)  # the offsets to commit come out in the same order


def test_runs_of_one_partition_keep_its_highest_offset():
    msgs = [Message(topic="t", partition=0, offset=o, value=b"v") for o in (5, 9, 7)]
    msgs += [Message(topic="t", partition=1, offset=3, value=b"v"), Message(topic="t", partition=0, offset=8)]
    assert runtime._messages.unpack(msgs)[2:] == ({"t": 5}, {("t", 0): 9, ("t", 1): 3})


def test_anything_but_a_list_of_messages_goes_to_the_reference():
    with pytest.raises(TypeError):
        runtime._messages.unpack([object()])
    msgs = (Message(topic="t", partition=0, offset=4, value=b"v"),)
    with pytest.raises(TypeError):
        runtime._messages.unpack(msgs)
    assert runtime.unpack(msgs) == ([(b"v", "t", 0, 4)], [], {"t": 1}, {("t", 0): 4})
    assert runtime.unpack([]) == ([], [], {}, {})
    assert runtime.partition_runs((("t", 0, 4, 0),)) == [("t", 0, 0, 1)]


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 2), st.integers(0, 9), st.just(0)),
                max_size=40))
def test_c_finds_the_partition_runs_the_reference_finds(sources):
    assert runtime._messages.partition_runs(sources) == runtime._partition_runs_python(sources)
    runs = runtime._partition_runs_python(sources)
    assert [i for _t, _p, a, b in runs for i in range(a, b)] == list(range(len(sources)))
    assert all(sources[i][:2] == (t, p) for t, p, a, b in runs for i in range(a, b))
