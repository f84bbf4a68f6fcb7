"""SIGKILL the detect worker between the start and the end of an attack: its rule state
(recovered from the faust changelog) must still see the earlier failures, and no alert
may be notified twice."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import orjson
import pytest

from collectors.incidents import ATTACKER_IP, default_incidents
from collectors.publisher import Publisher
from sluice import summary
from sluice.settings import load_settings
from sluice.stack import Stack

pytestmark = pytest.mark.faults


def _records(stream_events: list[tuple[str, dict]], start: int) -> dict[str, list[tuple[bytes, bytes]]]:
    out: dict[str, list[tuple[bytes, bytes]]] = {}
    for i, (stream, event) in enumerate(stream_events):
        eid = f"00000000-0000-7000-9000-{start + i:012d}"
        out.setdefault(stream, []).append((eid.encode(), orjson.dumps({**event, "event_id": eid, "ts": time.time()})))
    return out


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_detect_killed_mid_attack_keeps_state_and_sends_no_duplicates(tmp_path, embedded_broker, topic_prefix):
    settings = load_settings(data_dir=tmp_path, **{
        "kafka.bootstrap_servers": embedded_broker.bootstrap_servers, "kafka.topic_prefix": topic_prefix,
        "kafka.partitions": 2})
    attack = next(i for i in default_incidents() if "brute" in i.name).records
    failures, success = attack[:-1], attack[-1:]
    stack = Stack(settings).start()
    try:
        pub = Publisher(settings.kafka)

        def fired() -> Counter:
            return Counter((a["rule_id"], a["status"], a["id"]) for a in summary.alerts_on_topic(settings.kafka))

        pub.publish(_records(failures, 0))
        pub.flush()
        _wait_for(lambda: any(r == "security.ssh_brute_force" for r, _, _ in fired()), 90, "the brute-force alert")
        detect = stack.child("detect")
        os.kill(detect.proc.pid, signal.SIGKILL)
        detect.proc.wait()
        stack.supervise()  # restarts it; its tables come back from the changelog
        pub.publish(_records(success, 100))
        pub.flush()
        try:
            _wait_for(lambda: any(r == "security.success_after_failures" for r, _, _ in fired()), 120,
                      "the success-after-failures alert (needs the failures seen before the kill)")
        except AssertionError as exc:
            # Seen once in many runs: keep what the stages said, the tmp dir does not last
            logs = {c: stack.child(c).log_path.read_text(errors="replace")[-6000:] for c in ("detect", "ingest-0")}
            raise AssertionError(f"{exc}; alerts seen: {dict(fired())}; stage logs: {logs}") from None
        time.sleep(8)  # a duplicate would come with the replay right after the restart
        counts = fired()
        assert all(n == 1 for n in counts.values()), counts
        brute = [a for a in summary.alerts_on_topic(settings.kafka) if a["rule_id"] == "security.ssh_brute_force"]
        assert len(brute) == 1 and brute[0]["labels"].get("source_ip") == ATTACKER_IP
        assert stack.child("detect").restarts == 1
        pub.close()
    finally:
        stack.close()
