"""Restarts and replays over the same state tables: no duplicate, no loss."""

from __future__ import annotations

import orjson

from tests.unit.streams.alerting.conftest import T0, Harness, candidate, simple_config


def test_replayed_candidates_after_a_restart_send_nothing_twice():
    h = Harness(simple_config(route={"group_wait": "5s", "group_interval": "1m"}))
    fired, resolved = candidate(), candidate(status="resolved", at=T0 + 100, starts_at=T0)
    h.send(fired)
    sent = h.tick(T0 + 5)
    h.restart()
    # The detect app re-reads its input from the last committed offset and re-emits.
    assert h.send(fired, now=T0 + 6) == [] and h.tick(T0 + 7) == []
    sent += h.send(resolved)  # the group's last flush is > group_interval ago: sent at once
    assert h.tick(T0 + 130) == []
    h.restart()
    assert h.send(fired, now=T0 + 131) == [] and h.send(resolved, now=T0 + 131) == []
    assert h.tick(T0 + 4 * 3600 * 2) == []
    assert [orjson.loads(n.value)["status"] for n in sent] == ["firing", "resolved"]
    assert [c for _, c in h.changes()] == ["firing", "notified", "resolved", "notified"]


def test_a_firing_alert_waiting_for_its_group_survives_a_restart():
    h = Harness(simple_config(route={"group_wait": "5s"}))
    h.send(candidate())
    h.restart()  # killed before the group was due
    [note] = h.tick(T0 + 5)
    assert note.message.status == "firing"
    h.restart()
    assert h.tick(T0 + 10) == []


def test_replayed_event_detections_do_not_reopen_a_resolved_episode():
    h = Harness(simple_config(route={"group_wait": "0s", "group_interval": "0s"}, resolve_after="5m"))
    detections = [candidate(lifecycle="event", rule_id="security.sudo_root_shell", at=T0 + i * 60,
                            group={"host": "h1"}, event_ids=[f"e{i}"]) for i in range(3)]
    sent = [n for d in detections for n in h.send(d)]
    sent += h.tick(T0 + 120 + 300)
    h.restart()
    for d in detections:
        assert h.send(d, now=T0 + 500) == []
    assert [n.message.status for n in sent] == ["firing", "resolved"]
    assert sent[1].message.evidence.event_ids == ["e0", "e1", "e2"]


def test_repeat_schedule_and_mute_state_survive_a_restart():
    h = Harness(simple_config(route={"group_wait": "0s", "repeat_interval": "1h"}))
    h.send(candidate())
    h.restart()
    assert h.tick(T0 + 3599) == []
    [repeat] = h.tick(T0 + 3600)
    h.restart()
    assert repeat.message.repeat == 1 and h.tick(T0 + 3601) == []


def test_state_is_plain_json_keyed_by_strings():
    h = Harness(simple_config())
    h.send(candidate())
    h.tick(T0 + 5)
    for table in (h.states, h.groups):
        assert table.data and all(isinstance(k, str) for k in table.data)
        assert all(isinstance(orjson.loads(v), dict) for v in table.data.values())
