"""Dedup, resolve, repeat_interval and grouping timing of the alert manager."""

from __future__ import annotations

import orjson

from schemas.alerts import alert_id
from tests.unit.streams.alerting.conftest import T0, Harness, candidate, simple_config


def messages(notes) -> list[dict]:
    return [orjson.loads(n.value) for n in notes]


def test_first_notification_waits_for_group_wait_then_carries_the_message():
    h = Harness(simple_config())
    c = candidate(event_ids=["0190c4c2-0000-7000-8000-000000000001"])
    assert h.send(c) == []
    assert h.tick(T0 + 4.9) == []
    [note] = h.tick(T0 + 5)
    msg = orjson.loads(note.value)
    assert note.topics == ["t.alerts"] and note.key == c["fingerprint"].encode()
    assert msg["id"] == alert_id(c["fingerprint"], T0, "firing") == note.id
    assert (msg["status"], msg["repeat"], msg["group_size"], msg["sent_at"]) == ("firing", 0, 1, T0 + 5)
    assert msg["group_key"] == 'root:{rule_id="payments.provider_failure_ratio",tenant=""}'
    assert msg["labels"]["provider"] == "adyen" and msg["annotations"]["runbook_url"] == "https://rb"
    assert msg["evidence"]["event_ids"] == c["event_ids"]
    assert "FROM db.logs WHERE event_id IN ('0190c4c2-0000-7000-8000-000000000001')" in msg["evidence"]["sql"]
    assert dict(note.headers) == {"schema_version": b"1", "idempotency_key": msg["id"].encode(),
                                  "content_type": b"application/json"}
    assert h.tick(T0 + 3600) == []


def test_same_fingerprint_firing_again_is_deduplicated_and_updates_the_value():
    h = Harness(simple_config(route={"group_wait": "0s"}))
    assert len(h.send(candidate(value=0.08))) == 1
    # The engine re-fires after a restart of its own state: same alert, new starts_at.
    assert h.send(candidate(at=T0 + 30, value=0.2)) == []
    assert h.tick(T0 + 120) == []
    state = h.states[candidate()["fingerprint"]]
    assert state["starts_at"] == T0 and state["alert"]["value"] == 0.2
    assert h.changes().count(("payments.provider_failure_ratio", "firing")) == 1


def test_repeat_interval_renotifies_a_still_firing_alert_with_the_same_id():
    h = Harness(simple_config(route={"group_wait": "0s", "repeat_interval": "4h"}))
    [first] = h.send(candidate())
    assert h.tick(T0 + 4 * 3600 - 1) == []
    [again] = h.tick(T0 + 4 * 3600)
    [third] = h.tick(T0 + 8 * 3600)
    assert [m["repeat"] for m in messages([first, again, third])] == [0, 1, 2]
    assert first.id == again.id == third.id
    assert ("payments.provider_failure_ratio", "repeat") in h.changes()


def test_state_alert_resolves_from_the_engine_after_group_interval():
    h = Harness(simple_config(route={"group_wait": "0s", "group_interval": "1m"}))
    [fired] = h.send(candidate())
    assert h.send(candidate(status="resolved", at=T0 + 20, starts_at=T0)) == []  # last flush was 20 s ago
    [resolved] = h.tick(T0 + 60)
    msg = orjson.loads(resolved.value)
    assert (msg["status"], msg["starts_at"], msg["ends_at"]) == ("resolved", T0, T0 + 20)
    assert msg["id"] == alert_id(msg["fingerprint"], T0, "resolved") != fired.id
    assert h.tick(T0 + 3600 * 5) == []  # no repeats of a resolved alert


def test_event_alert_resolves_after_resolve_after_without_new_detections():
    h = Harness(simple_config(route={"group_wait": "0s"}, resolve_after="5m"))
    event = dict(lifecycle="event", rule_id="security.sudo_root_shell", group={"host": "h1"}, severity="warning")
    [fired] = h.send(candidate(**event, event_ids=["a"]))
    assert h.send(candidate(**event, at=T0 + 200, event_ids=["b"])) == []  # same episode: extends it
    assert h.tick(T0 + 499) == []
    [resolved] = h.tick(T0 + 500)
    msg = orjson.loads(resolved.value)
    assert (msg["status"], msg["starts_at"], msg["ends_at"]) == ("resolved", T0, T0 + 500)
    assert msg["evidence"]["event_ids"] == ["a", "b"]
    # A later detection opens a new episode, with a new id.
    [refired] = h.send(candidate(**event, at=T0 + 900))
    assert orjson.loads(refired.value)["starts_at"] == T0 + 900 and refired.id != fired.id


def test_alert_resolved_before_its_first_notification_is_never_sent():
    h = Harness(simple_config())
    h.send(candidate())
    h.send(candidate(status="resolved", at=T0 + 2, starts_at=T0))
    assert h.tick(T0 + 10) == [] and h.tick(T0 + 600) == []
    assert h.changes() == [("payments.provider_failure_ratio", "firing"),
                           ("payments.provider_failure_ratio", "resolved")]


def test_group_waits_then_flushes_together_and_later_changes_wait_for_group_interval():
    h = Harness(simple_config(route={"group_by": ["rule_id"], "group_wait": "5s", "group_interval": "1m"}))
    h.send(candidate(group={"series.provider": "adyen"}))
    h.send(candidate(group={"series.provider": "stripe"}, at=T0 + 3))
    first = h.tick(T0 + 5)
    assert sorted(m["labels"]["provider"] for m in messages(first)) == ["adyen", "stripe"]
    assert {m["group_size"] for m in messages(first)} == {2}
    assert len({m["group_key"] for m in messages(first)}) == 1
    h.send(candidate(group={"series.provider": "paypal"}, at=T0 + 10))
    assert h.tick(T0 + 64) == []
    [late] = h.tick(T0 + 65)
    assert orjson.loads(late.value)["labels"]["provider"] == "paypal"


def test_separate_groups_have_separate_timers():
    h = Harness(simple_config(route={"group_by": ["provider"], "group_wait": "5s"}))
    h.send(candidate(group={"series.provider": "adyen"}))
    h.send(candidate(group={"series.provider": "stripe"}, at=T0 + 4))
    assert [m["labels"]["provider"] for m in messages(h.tick(T0 + 5))] == ["adyen"]
    assert [m["labels"]["provider"] for m in messages(h.tick(T0 + 9))] == ["stripe"]


def test_new_episode_sends_the_pending_resolution_first():
    h = Harness(simple_config(route={"group_wait": "0s", "group_interval": "10m"}))
    h.send(candidate())
    h.send(candidate(status="resolved", at=T0 + 10, starts_at=T0))
    out = h.send(candidate(at=T0 + 20))
    assert [(m["status"], m["starts_at"]) for m in messages(out)] == [("resolved", T0)]
    # That out-of-turn send was a flush of the group: the new firing waits group_interval from it.
    assert h.tick(T0 + 619) == []
    assert [(m["status"], m["starts_at"]) for m in messages(h.tick(T0 + 620))] == [("firing", T0 + 20)]


def test_resolved_alerts_are_forgotten_after_state_retention():
    h = Harness(simple_config(route={"group_wait": "0s", "group_interval": "0s"}, state_retention="1h"))
    h.send(candidate())
    h.send(candidate(status="resolved", at=T0 + 10, starts_at=T0))
    h.tick(T0 + 10)
    assert len(h.states) == 1 and len(h.groups) == 0
    h.tick(T0 + 10 + 3600)
    assert len(h.states) == 0


def test_malformed_candidates_are_counted_not_raised():
    h = Harness(simple_config())
    assert h.send({"status": "firing", "ts": T0}) == []
    assert h.send({**candidate(), "status": "pending"}) == []
    assert h.manager.stats["rejected"] == 2 and len(h.states) == 0


def test_alerts_of_a_rule_removed_from_the_library_resolve_instead_of_repeating_forever():
    h = Harness(simple_config(route={"group_wait": "0s", "repeat_interval": "4h"}))
    [fired] = h.send(candidate())
    assert h.manager.tick(T0 + 60, {"payments.provider_failure_ratio", "other.rule"}) == []
    [resolved] = h.manager.tick(T0 + 120, {"other.rule"})
    msg = orjson.loads(resolved.value)
    assert (msg["status"], msg["ends_at"]) == ("resolved", T0 + 120)
    assert h.manager.tick(T0 + 5 * 3600, {"other.rule"}) == []
    reasons = [row["reason"] for row in h.manager.drain_history() if row["change"] == "resolved"]
    assert reasons == ["its rule was removed from the library"]
