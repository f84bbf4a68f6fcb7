"""Silences and inhibition: muted alerts are recorded, not sent, and sent once unmuted."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from streams.alerting import SilenceStore, decode_silence, encode_silence, expire_silence, new_silence
from tests.unit.streams.alerting.conftest import T0, Harness, candidate, simple_config

IMMEDIATE = {"group_wait": "0s", "group_interval": "0s"}


def silenced_harness(*matchers: str, hours: float = 1.0) -> tuple[Harness, str]:
    store = SilenceStore()
    silence = new_silence(list(matchers), hours * 3600, "alice", "INC-42 provider maintenance", T0 - 1)
    assert store.apply(*encode_silence(silence)) is not None
    return Harness(simple_config(route=IMMEDIATE), silences=store), silence.id


def test_silenced_alert_is_recorded_as_suppressed_and_not_sent():
    h, silence_id = silenced_harness("provider=adyen")
    assert h.send(candidate()) == []
    assert h.tick(T0 + 60) == []
    [row] = [r for r in h.manager.drain_history() if r["change"] == "suppressed"]
    assert (row["silence_id"], row["actor"], row["reason"]) == (silence_id, "alice", "INC-42 provider maintenance")
    assert len(h.send(candidate(group={"series.provider": "stripe"}))) == 1  # not matched by the silence


def test_alert_still_firing_when_the_silence_ends_is_notified():
    h, _ = silenced_harness("provider=adyen", hours=1)
    h.send(candidate())
    assert h.tick(T0 + 3000) == []
    [note] = h.tick(T0 + 3600)
    assert orjson.loads(note.value)["starts_at"] == T0
    # One suppressed row for the whole silence, not one per tick.
    assert h.changes().count(("payments.provider_failure_ratio", "suppressed")) == 1


def test_expiring_a_silence_early_unmutes_at_the_next_tick():
    h, silence_id = silenced_harness("team=~\"payments-.*\"", "severity!=info")
    h.send(candidate())
    assert h.tick(T0 + 10) == []
    expired = expire_silence(h.silences.get(silence_id), T0 + 20, by="bob")
    h.silences.apply(*encode_silence(expired))
    assert len(h.tick(T0 + 21)) == 1


def test_regex_matchers_are_anchored_and_negatable():
    h, _ = silenced_harness('rule_id=~"payments\\.provider"')  # a prefix only: must not match
    assert len(h.send(candidate())) == 1
    h2, _ = silenced_harness('rule_id!~"sre\\..*"', "provider=adyen")
    assert h2.send(candidate()) == []


def test_a_silence_does_not_mute_the_resolution_of_an_alert_already_notified():
    h = Harness(simple_config(route=IMMEDIATE))
    assert len(h.send(candidate())) == 1
    h.silences.put(new_silence(["provider=adyen"], 3600, "alice", "late silence", T0 + 5))
    [resolved] = h.send(candidate(status="resolved", at=T0 + 10, starts_at=T0))
    assert orjson.loads(resolved.value)["status"] == "resolved"


@pytest.mark.parametrize("matchers, message", [
    (['team=~"(a+)+"'], "nested quantifier"),
    (["team=~\".*\""], "would mute every alert"),
    (["team!=payments"], "would mute every alert"),
    (["no operator"], "invalid matcher"),
])
def test_unsafe_or_too_broad_silences_are_rejected(matchers, message):
    with pytest.raises(ValidationError, match=message):
        new_silence(matchers, 3600, "alice", "why", T0)


def test_silence_store_applies_the_compacted_topic():
    store = SilenceStore()
    first = new_silence(["team=sre"], 3600, "alice", "disk swap", T0)
    store.apply(*encode_silence(first))
    later = expire_silence(first, T0 + 60)
    store.apply(*encode_silence(later))
    store.apply(*encode_silence(first))  # an older version replayed: ignored
    assert store.get(first.id).state == "expired" and store.active(T0 + 61) == []
    assert store.apply(first.id.encode(), None) is None and len(store) == 0  # tombstone
    assert store.apply(b"other-id", encode_silence(first)[1]) is None and store.rejected == 1
    assert store.apply(b"x", b"{not json") is None and store.rejected == 2
    assert decode_silence(*encode_silence(first)) == first


def test_pending_silence_starts_muting_at_its_start():
    store = SilenceStore()
    store.put(new_silence(["provider=adyen"], 3600, "alice", "window", T0, starts_at=T0 + 100))
    assert store.match({"provider": "adyen"}, T0 + 99) is None
    assert store.match({"provider": "adyen"}, T0 + 100) is not None
    assert store.match({"provider": "adyen"}, T0 + 3700) is None


def test_inhibition_mutes_targets_with_equal_labels_until_the_source_resolves(library_config):
    h = Harness(library_config)
    outage = candidate()  # payments.provider_failure_ratio, critical, provider=adyen
    warn = dict(rule_id="payments.provider_latency", severity="warning", team="payments-oncall")
    h.send(outage)
    h.send(candidate(**warn, group={"series.provider": "adyen"}, at=T0 + 1))
    h.send(candidate(**warn, group={"series.provider": "stripe"}, at=T0 + 1))
    sent = [orjson.loads(n.value) for n in h.tick(T0 + 5) + h.tick(T0 + 6)]  # one group per provider
    assert sorted((m["rule_id"], m["labels"]["provider"]) for m in sent if m["group_key"].startswith("payments")) \
        == [("payments.provider_failure_ratio", "adyen"), ("payments.provider_latency", "stripe")]
    [row] = [r for r in h.manager.drain_history() if r["change"] == "inhibited"]
    assert row["actor"] == outage["fingerprint"] and row["reason"].startswith("provider-outage")
    h.send(candidate(status="resolved", at=T0 + 30, starts_at=T0))
    released = [orjson.loads(n.value) for n in h.tick(T0 + 65)]
    assert ("payments.provider_latency", "adyen", "firing") in [
        (m["rule_id"], m["labels"]["provider"], m["status"]) for m in released]


def test_inhibition_needs_the_equal_labels_present_on_both_sides():
    config = simple_config(route=IMMEDIATE, inhibit_rules=[
        {"source_match": {"severity": "critical"}, "target_match": {"severity": "warning"}, "equal": ["provider"]}])
    h = Harness(config)
    h.send(candidate(group={}, rule_id="payments.volume_drop"))  # critical, no provider label
    assert len(h.send(candidate(group={}, rule_id="sre.disk", severity="warning", at=T0 + 1))) == 1


def test_a_silence_that_runs_out_is_recorded_once_and_an_ended_one_is_not():
    h, silence_id = silenced_harness("provider=adyen", hours=1)
    early = new_silence(["provider=stripe"], 600, "carol", "stripe maintenance", T0 - 1)
    h.silences.put(expire_silence(early, T0 + 100, by="carol"))  # ended by a person: its row came from the CLI
    h.tick(T0 + 10)
    h.tick(T0 + 3598)
    assert not [r for r in h.manager.drain_history() if r["change"] == "silence_expired"]
    h.tick(T0 + 3600)
    h.tick(T0 + 3700)
    rows = [r for r in h.manager.drain_history() if r["change"] == "silence_expired"]
    assert [(r["silence_id"], r["ts"], r["actor"]) for r in rows] == [(silence_id, T0 - 1 + 3600, "sluice (ran out)")]
    restarted = Harness(h.config, silences=h.silences)
    restarted.tick(T0 + 3800)
    restarted.tick(T0 + 3900)
    assert not [r for r in restarted.manager.drain_history() if r["change"] == "silence_expired"]
