"""The 2,000-line syslog / sshd / Apache error log of tests/corpus/auth_2000.log: every
line lands as an event or a dead letter, and the generator is deterministic."""

from __future__ import annotations

import collections
import runpy

import orjson

from schemas.ids import stable_event_id
from schemas.topics import Topics
from streams.ingest.pipeline import IngestConfig, Ingestor
from tests.unit.streams.ingest.corpus import CORPUS, OBSERVED
from tests.unit.streams.ingest.test_properties import assert_no_card_numbers

LOG = CORPUS / "auth_2000.log"
T = Topics()


def _lines() -> list[bytes]:
    lines = LOG.read_bytes().split(b"\n")
    assert lines[-1] == b""
    return lines[:-1]


def test_generator_writes_the_committed_file():
    generated = runpy.run_path(str(CORPUS / "make_auth_log.py"))["lines"]()
    assert generated == _lines() and len(generated) == 2000


def test_every_line_lands_as_an_event_or_a_dead_letter():
    lines = _lines()
    topic = T.raw("logs")
    out = Ingestor(T).process([(line, topic, 0, i) for i, line in enumerate(lines)], OBSERVED, keep_events=True)
    dead = {orjson.loads(v)["source_offset"]: orjson.loads(v)["reason"] for _, v, _ in out.by_topic[T.dlq]}
    landed = {ev["event_id"] for ev in out.events}
    assert landed == {stable_event_id(topic, 0, i) for i in range(len(lines)) if i not in dead}
    assert len(out.events) + len(dead) == len(lines)
    assert set(dead.values()) == {"decode_error", "invalid_utf8", "empty"}
    kinds = collections.Counter(ev["kind"] for ev in out.events)
    assert kinds["security"] > 1000 and kinds["log"] > 300
    actions = collections.Counter(ev.get("action") for ev in out.events if ev["kind"] == "security")
    assert {"ssh_login", "sudo", "su", "session_open", "session_close", "ssh_connect"} <= set(actions)
    assert all(ev["ts"] != OBSERVED for ev in out.events)  # every line had a readable date
    assert out.redacted["card_number"] >= 5 and out.redacted["password"] >= 1
    assert_no_card_numbers(out)


def test_networks_only_leaves_thread_ids_alone():
    lines = _lines()
    cfg = IngestConfig(redaction={"card_networks_only": True})
    out = Ingestor(T, cfg).process([(line, T.raw("logs"), 0, i) for i, line in enumerate(lines)], OBSERVED)
    networks = collections.Counter(orjson.loads(v)["attributes"]["network"] for _, v, _ in out.by_topic[T.signals])
    assert set(networks) == {"visa"}
