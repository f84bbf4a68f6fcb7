"""The alert lifecycle: dedup, resolve, repeat, group, silence, inhibit, route.

Pure: the caller feeds rule engine candidates (`on_candidate`) and a timer
(`tick`), produces the returned notifications and `history` rows, and owns the
two state mappings (faust Tables in the detect app, dicts in tests):

- `states[fingerprint]`: one JSON dict per alert (the current or last episode);
- `groups[group_key]`: when a notification group was created and last flushed.

Every change is written back with a plain assignment before the notifications
that follow from it are returned, and a notification is marked sent in the same
write, so a worker restarted over the same mappings neither repeats nor forgets
one (a lost changelog record of that write is covered by streams.alerting.delivery).
Replayed candidates are recognised from the state (same episode, or older than it)
and change nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.alerts import AlertMessage
from streams.alerting.config import AlertingConfig
from streams.alerting.inhibit import Inhibitor
from streams.alerting.records import (
    encode_message,
    history_row,
    match_labels,
    message_for,
    number,
    silence_history_row,
    snapshot,
)
from streams.alerting.routing import Router
from streams.alerting.silences import SilenceStore

State = dict[str, Any]
Sources = Callable[[], list[tuple[str, dict[str, str]]]]


@dataclass(frozen=True)
class Notification:
    """One alert message to produce to each of `topics` (key = fingerprint)."""

    topics: list[str]
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    message: AlertMessage

    @property
    def id(self) -> str:
        return self.message.id


class AlertManager:
    def __init__(self, config: AlertingConfig, states: MutableMapping[str, dict], groups: MutableMapping[str, dict],
                 silences: SilenceStore, database: str = "sluice", topic_prefix: str = "sluice"):
        self.config = config
        self.states = states
        self.groups = groups
        self.silences = silences
        self.database = database
        self.router = Router(config.route, topic_prefix)
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self.history: list[dict] = []  # audit rows since the last drain_history()
        self._silences_checked_at: float | None = None
        self.stats: Counter[str] = Counter()

    def drain_history(self) -> list[dict]:
        rows, self.history = self.history, []
        return rows

    # -- input -----------------------------------------------------------------
    def on_candidate(self, candidate: Mapping[str, Any], now: float) -> list[Notification]:
        """Apply one alert candidate of the rule engine; notifications due now."""
        if not _valid(candidate):
            self.stats["rejected"] += 1
            return []
        self.stats["candidates"] += 1
        fingerprint = candidate["fingerprint"]
        state = self._load(fingerprint)
        out: list[Notification] = []
        if candidate["status"] == "firing":
            state = self._fire(candidate, state, now, out)
        else:
            state = self._resolve(candidate, state, now)
        if state is None:
            self.stats["unchanged"] += 1
            return out
        if not self._due(state["group_key"], state["route"], now):
            return out  # most candidates land in a waiting group: skip the scan for its members
        return out + self._flush({state["group_key"]}, now)

    def tick(self, now: float, rule_ids: set[str] | None = None) -> list[Notification]:
        """Timer (every second or so): resolve quiet event alerts and the alerts of rules
        no longer in `rule_ids` (the loaded library; None: not checked), schedule
        repeats, flush the groups that are due, forget old resolved alerts."""
        for fingerprint, raw in list(self.states.items()):
            # Read in place; copy only what changes (most alerts change nothing on a tick).
            if raw["status"] == "firing":
                quiet_until = raw["last_seen"] + self.config.resolve_after
                if rule_ids is not None and raw["rule_id"] not in rule_ids:
                    # Nothing can resolve it any more; repeating it every few hours would page forever.
                    self._close(_copy(raw), now, now, "its rule was removed from the library")
                elif raw["lifecycle"] == "event" and now >= quiet_until:
                    self._close(_copy(raw), quiet_until, now, f"no new detection for {self.config.resolve_after:g}s")
                elif (raw["notified"] and not raw.get("pending")
                      and now >= raw["last_sent_at"] + raw["route"]["repeat_interval"]):
                    self.states[fingerprint] = {**_copy(raw), "pending": "repeat"}
            elif not raw.get("pending") and now - raw["updated_at"] >= self.config.state_retention:
                del self.states[fingerprint]
        self._record_silences_run_out(now)
        pending = {s["group_key"] for s in self.states.values() if s.get("pending")}
        out = self._flush(pending, now)
        live = {s["group_key"] for s in self.states.values() if s["status"] == "firing" or s.get("pending")}
        for key in [k for k in self.groups if k not in live]:
            del self.groups[key]
        return out

    def _record_silences_run_out(self, now: float) -> None:
        """An audit row for each silence whose time ran out since the last tick (ended
        by a person, it has its row from `sluice silence expire`). Only ends seen while
        running: a restarted worker does not record again what its predecessor did."""
        since, self._silences_checked_at = self._silences_checked_at, now
        if since is None:
            return
        for silence in self.silences.all():
            if silence.state == "active" and since < silence.ends_at <= now:
                self.history.append(silence_history_row(silence, "silence_expired", silence.ends_at,
                                                        actor="sluice (ran out)"))

    # -- lifecycle -------------------------------------------------------------
    def _fire(self, c: Mapping[str, Any], state: State | None, now: float, out: list[Notification]) -> State | None:
        lifecycle = "event" if c.get("lifecycle") == "event" else "state"
        starts_at = float(c["starts_at"])
        ts = float(c["ts"]) if number(c.get("ts")) is not None else starts_at
        if state is not None and state["status"] == "firing":
            self._merge(state, c, ts)  # dedup: the same alert is still firing
            return None
        if state is not None:  # resolved: a new episode, or a replay of a past one?
            if lifecycle == "event" and ts <= state["last_seen"]:
                return None
            if lifecycle == "state" and (starts_at <= state["starts_at"] or starts_at < (state["ends_at"] or 0)):
                return None
            if state.get("pending") == "resolved":
                # The new episode would overwrite the unsent resolution: send it now, out of turn.
                out += self._send(state["group_key"], [state], now)
        alert = snapshot(c, self.config.max_evidence_ids)
        state = {"fingerprint": c["fingerprint"], "rule_id": str(c["rule_id"]), "lifecycle": lifecycle,
                 "status": "firing", "starts_at": starts_at, "ends_at": None, "last_seen": ts, "detections": 1,
                 "alert": alert, "pending": "firing", "notified": False, "last_sent_at": None, "repeats": 0,
                 "muted": None, "updated_at": now}
        route, topics = self.router.route(match_labels(state))
        state.update(group_key=route.group_key(match_labels(state)), topics=topics,
                     route={"name": route.name, "group_wait": route.group_wait,
                            "group_interval": route.group_interval, "repeat_interval": route.repeat_interval})
        self.states[state["fingerprint"]] = state
        self._record(state, "firing", now, actor=f"rule:{state['rule_id']}", reason=alert["annotations"]["summary"])
        return state

    def _merge(self, state: State, c: Mapping[str, Any], ts: float) -> None:
        fresh = snapshot(c, self.config.max_evidence_ids)
        alert = state["alert"]
        ids = alert["event_ids"]
        added = [i for i in fresh["event_ids"] if i not in ids][: max(0, self.config.max_evidence_ids - len(ids))]
        newer = ts > state["last_seen"]
        if not added and not newer:
            return
        ids.extend(added)
        if newer:  # a replayed older candidate must not overwrite what a newer one said
            for key in ("annotations", "value", "values"):
                alert[key] = fresh[key]
            state["last_seen"] = ts
            state["detections"] += 1
        self.states[state["fingerprint"]] = state

    def _resolve(self, c: Mapping[str, Any], state: State | None, now: float) -> State | None:
        if state is None or state["status"] != "firing":
            return None  # never fired here, or already resolved (a replay)
        ends_at = next(float(v) for v in (c.get("ends_at"), c.get("ts"), now) if number(v) is not None)
        if ends_at < state["starts_at"]:
            return None  # the end of an earlier episode, replayed
        fresh = snapshot(c, self.config.max_evidence_ids)
        for key in ("annotations", "value", "values"):
            state["alert"][key] = fresh[key]
        self._close(state, ends_at, now, "condition cleared")
        return state

    def _close(self, state: State, ends_at: float, now: float, reason: str) -> None:
        state.update(status="resolved", ends_at=ends_at, muted=None, updated_at=now,
                     # Subscribers hear "resolved" only about alerts they heard firing.
                     pending="resolved" if state["notified"] else None)
        self.states[state["fingerprint"]] = state
        self._record(state, "resolved", now, reason=reason)

    # -- notification ----------------------------------------------------------
    def _flush(self, keys: set[str], now: float) -> list[Notification]:
        if not keys:
            return []
        members: dict[str, list[State]] = defaultdict(list)
        for raw in list(self.states.values()):
            if raw.get("pending") and raw["group_key"] in keys:
                members[raw["group_key"]].append(_copy(raw))
        sources = _lazy(lambda: [(f, match_labels(s)) for f, s in self.states.items() if s["status"] == "firing"])
        out: list[Notification] = []
        for key in sorted(members):
            pending = sorted(members[key], key=lambda s: (s["starts_at"], s["fingerprint"]))
            if self._due(key, pending[0]["route"], now):
                ready = [s for s in pending if s["pending"] == "resolved" or not self._muted(s, now, sources)]
                out += self._send(key, ready, now)
        return out

    def _due(self, key: str, route: Mapping[str, float], now: float) -> bool:
        group = self.groups.get(key)
        if group is None:
            group = {"created_at": now, "last_flush": None}
            self.groups[key] = group
        if group["last_flush"] is None:
            return now >= group["created_at"] + route["group_wait"]
        return now >= group["last_flush"] + route["group_interval"]

    def _muted(self, state: State, now: float, sources: Sources) -> bool:
        """Whether a silence or an inhibition mutes the alert; records each change of cause."""
        labels = match_labels(state)
        mute = None
        silence = self.silences.match(labels, now)
        if silence is not None:
            mute = {"change": "suppressed", "silence_id": silence.id, "actor": silence.created_by,
                    "reason": silence.comment}
        elif self.inhibitor:
            found = self.inhibitor.inhibited_by(state["fingerprint"], labels, sources())
            if found is not None:
                mute = {"change": "inhibited", "silence_id": "", "actor": found.source_fingerprint,
                        "reason": f"{found.rule}: {found.source_rule_id} is firing"}
        if mute != state.get("muted"):
            state["muted"] = mute
            self.states[state["fingerprint"]] = state
            if mute is not None:
                self._record(state, mute["change"], now, silence_id=mute["silence_id"], actor=mute["actor"],
                             reason=mute["reason"])
        return mute is not None

    def _send(self, key: str, ready: list[State], now: float) -> list[Notification]:
        out = []
        for state in ready:
            kind = state["pending"]
            status = "resolved" if kind == "resolved" else "firing"
            repeat = state["repeats"] + 1 if kind == "repeat" else 0
            msg = message_for(state, status, database=self.database, group_key=key, group_size=len(ready),
                              repeat=repeat, now=now)
            state.update(pending=None, last_sent_at=now, repeats=repeat, updated_at=now,
                         notified=state["notified"] or status == "firing")
            self.states[state["fingerprint"]] = state  # marked sent before it is handed out
            self._record(state, "repeat" if kind == "repeat" else "notified", now, group_key=key,
                         topics=state["topics"], reason=f"{status} notification")
            msg_key, value, headers = encode_message(msg)
            out.append(Notification(list(state["topics"]), msg_key, value, headers, msg))
        if out:
            group = self.groups.get(key) or {"created_at": now}
            self.groups[key] = {**group, "last_flush": now}
            self.stats["notifications"] += len(out)
        return out

    # -- helpers -----------------------------------------------------------------
    def _load(self, fingerprint: str) -> State | None:
        raw = self.states.get(fingerprint)
        return _copy(raw) if raw is not None else None

    def _record(self, state: State, change: str, now: float, **extra: Any) -> None:
        self.history.append(history_row(state, change, now, database=self.database, **extra))


def _valid(c: Mapping[str, Any]) -> bool:
    return (isinstance(c, Mapping) and isinstance(c.get("fingerprint"), str) and bool(c["fingerprint"])
            and c.get("status") in ("firing", "resolved") and isinstance(c.get("rule_id"), str)
            and number(c.get("starts_at")) is not None)


def _copy(state: Mapping[str, Any]) -> State:
    """Deep copy through JSON: mutations never reach the table without an assignment."""
    return orjson.loads(orjson.dumps(state))


def _lazy(build: Callable[[], list]) -> Callable[[], list]:
    cache: list[list] = []

    def get() -> list:
        if not cache:
            cache.append(build())
        return cache[0]

    return get
