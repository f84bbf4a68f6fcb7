"""A permanent ClickHouse rejection inside a packed record: the store bisects to the
refused event, dead-letters it alone, lands the rest, and no two of its inserts share
a deduplication token (ClickHouse would drop the second as a copy)."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from schemas import packed, source
from schemas.errors import PermanentSinkError
from sinks.kafka import KafkaConfig
from streams.store import StoreConfig, StoreWorker


class _Sink:
    """Refuses any logs batch holding a poison event, as ClickHouse refuses a whole insert."""

    def __init__(self):
        self.inserts: list[tuple[str, list[str], str]] = []

    def write(self, stream, batch, token):
        if stream == "logs" and any('"poison"' in raw for raw in batch["raw"]):
            raise PermanentSinkError("Cannot parse input", code=27)
        self.inserts.append((stream, list(batch["raw"]), token))


class _Msg:
    def __init__(self, topic, partition, offset, key, value, headers):
        self._v = (topic, partition, offset, key, value, headers)

    def topic(self): return self._v[0]
    def partition(self): return self._v[1]
    def offset(self): return self._v[2]
    def key(self): return self._v[3]
    def value(self): return self._v[4]
    def headers(self): return self._v[5]


def test_a_refused_event_of_a_packed_record_is_dead_lettered_alone():
    sink = _Sink()
    store = StoreWorker(KafkaConfig(bootstrap_servers="127.0.0.1:9"), StoreConfig(), sink)
    store.consumer = SimpleNamespace(consumer=None)  # only backoff (retryable errors) uses it
    store.cluster_id = "c1"
    events = [(b"t|pay", orjson.dumps({"n": i, "msg": "poison" if i == 5 else "ok"}),
               source.ref("sluice.raw.logs", 0, 100 + i)) for i in range(8)]
    (key, value, headers), = packed.pack(events)
    store._write_batch([_Msg("sluice.logs", 2, 40, key, value, headers)])

    landed = [orjson.loads(raw)["n"] for stream, raws, _ in sink.inserts if stream == "logs" for raw in raws]
    assert sorted(landed) == [0, 1, 2, 3, 4, 6, 7]
    letters = [orjson.loads(raw) for stream, raws, _ in sink.inserts if stream == "dlq" for raw in raws]
    assert [(d["reason"], orjson.loads(d["payload"])["n"], d["source_offset"]) for d in letters] == [
        ("sink_rejected", 5, 40)]
    tokens = [token for _, _, token in sink.inserts]
    assert len(set(tokens)) == len(tokens)
    assert store.stored[("sluice.logs", 2)] == 40


def test_a_batch_of_only_invalid_deployments_is_dead_lettered_without_an_empty_insert():
    """All records of a validated topic invalid: before, the store handed ClickHouse an
    insert of no rows, which it refuses, and the bisection of nothing crashed the sink."""
    sink = _Sink()
    store = StoreWorker(KafkaConfig(bootstrap_servers="127.0.0.1:9"), StoreConfig(), sink)
    store.consumer = SimpleNamespace(consumer=None)
    store.cluster_id = "c1"
    bad = [_Msg("sluice.deployments", 0, 7 + i, b"ledger", value, None)
           for i, value in enumerate((b'{"kind": "deployment", "service": "ledger"}', b'[{"kind": "deployment"}]'))]
    store._write_batch(bad)

    assert [stream for stream, _, _ in sink.inserts] == ["dlq", "dlq"]
    letters = [orjson.loads(raw) for _, raws, _ in sink.inserts for raw in raws]
    assert [(d["reason"], d["kind"], d["source_offset"]) for d in letters] == [
        ("schema_violation", "deployments", 7), ("schema_violation", "deployments", 8)]
    assert store.stored[("sluice.deployments", 0)] == 8
