"""Incidents the demo injects into the synthetic traffic, each meant to raise one
rule's alert and resolve after it ends (normal traffic raises none): a payment
provider outage, a latency regression after a canary deploy, a card number written
to a log line, and an SSH brute force that ends in a successful login.

The schedule is in platform seconds after publishing starts (see streams.clock:
the demo runs platform time faster than the wall clock, so the library's real
windows apply: 5-minute ratios with `for: 2m`, a 10-minute canary analysis, alerts
resolving 5 minutes after their last detection). SCENARIO_S is how long the whole
script needs, resolutions included.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from collectors.ids import Uuid7Generator

ATTACKER_IP = "203.0.113.66"
OUTAGE_PROVIDER = "worldpay"
CANARY_SERVICE = "payments"
SCENARIO_S = 1020.0

# alter(stream, event, rng): changes one normal event while the incident lasts
Alter = Callable[[str, dict, random.Random], None]


@dataclass
class Incident:
    name: str
    at_s: float  # platform seconds after the start of publishing
    expected_rules: tuple[str, ...]
    records: list[tuple[str, dict]] = field(default_factory=list)  # (stream, event without id/ts)
    spread_s: float = 0.0  # records are spaced evenly over this many platform seconds
    lasts_s: float = 0.0  # how long `alter` changes normal traffic
    alter: Alter | None = None
    # Which normal events `alter` may change, judged on the event as generated (None: any):
    # the source then builds only those as dicts for `alter`.
    touches: Callable[[str, dict], bool] | None = None
    settled_s: float = 0.0  # platform seconds after the start by which its alerts have resolved


class Alteration:
    """`alter(stream, event)` of the incidents active at one time, with `may_change`."""

    def __init__(self, incidents: list[Incident], rng: random.Random):
        self._alters = [inc.alter for inc in incidents]
        self._touches = [inc.touches for inc in incidents]
        self._rng = rng

    def __call__(self, stream: str, event: dict) -> None:
        for fn in self._alters:
            fn(stream, event, self._rng)

    def may_change(self, stream: str, event: dict) -> bool:
        return any(t is None or t(stream, event) for t in self._touches)


def _provider_outage() -> Incident:
    def fail_half(stream: str, event: dict, rng: random.Random) -> None:
        if stream == "logs" and event.get("provider") == OUTAGE_PROVIDER and rng.random() < 0.5:
            event.update(status="failed", msg="payment failed: provider timeout")

    # 50% of its payments fail for 4 minutes: the 5-minute ratio passes 5% within a
    # minute, holds for `for: 2m`, and falls back under 5% about 5 minutes after the end.
    return Incident(f"payment provider outage ({OUTAGE_PROVIDER})", 90.0, ("payments.provider_failure_ratio",),
                    lasts_s=240.0, alter=fail_half, settled_s=720.0,
                    touches=lambda stream, event: stream == "logs" and event.get("provider") == OUTAGE_PROVIDER)


def _canary_regression(seed: int = 11) -> Incident:
    rng = random.Random(seed)
    deploy = ("deployments", {"kind": "deployment", "service": CANARY_SERVICE, "version": "2.14.0",
                              "canary_group": "canary", "baseline_group": "baseline", "tenant": "acme-pay",
                              "env": "prod", "actor": "ci/release-pipeline", "description": "payments 2.14.0 canary"})
    samples = []
    # One canary and one baseline sample of each metric every 10 s, past the 10-minute
    # analysis (a sample after its end closes it); the canary's latency is ~2x.
    for _ in range(62):
        for group, latency_mu in (("canary", -1.4), ("baseline", -2.1)):
            common = {"service": CANARY_SERVICE, "host": f"{CANARY_SERVICE}-{group}-1", "env": "prod",
                      "tenant": "acme-pay", "type": "gauge"}
            labels = {"deployment_group": group, "route": "/v1/payments"}
            samples.append(("metrics", {**common, "name": "http_request_duration_seconds", "unit": "s",
                                        "value": round(rng.lognormvariate(latency_mu, 0.3), 5), "labels": labels}))
            samples.append(("metrics", {**common, "name": "http_error_ratio",
                                        "value": round(rng.uniform(0.005, 0.015), 5), "labels": labels}))
    return Incident(f"latency regression after the canary deploy of {CANARY_SERVICE} 2.14.0", 30.0,
                    ("deployments.canary_fail",), [deploy] + samples, spread_s=620.0, settled_s=1000.0)


def _card_number() -> Incident:
    return Incident("card number in a payments log line", 360.0, ("compliance.card_number_in_logs",), [
        ("logs", {"level": "error", "service": "payments", "host": "payments-1", "env": "prod",
                  "tenant": "acme-pay", "msg": "charge declined for card 4111 1111 1111 1111 exp 12/29",
                  "provider": "adyen"})], settled_s=720.0)


def _brute_force() -> Incident:
    failures = [("security", {"category": "authentication", "action": "login", "outcome": "failure",
                              "user": "root", "target": "root", "source_ip": ATTACKER_IP, "service": "bastion",
                              "host": "bastion-1", "env": "prod", "tenant": "acme-pay", "protocol": "ssh",
                              "msg": "Failed password for root"}) for _ in range(12)]
    success = [("security", {"category": "authentication", "action": "login", "outcome": "success",
                             "user": "alice", "target": "alice", "source_ip": ATTACKER_IP, "service": "bastion",
                             "host": "bastion-1", "env": "prod", "tenant": "acme-pay", "protocol": "ssh",
                             "msg": "Accepted password for alice"})]
    return Incident("SSH brute force then a successful login", 420.0,
                    ("security.ssh_brute_force", "security.success_after_failures"), failures + success,
                    spread_s=90.0, settled_s=880.0)


def default_incidents() -> list[Incident]:
    return [_canary_regression(), _provider_outage(), _card_number(), _brute_force()]


class IncidentScript:
    """Releases each incident's records at their platform time and alters normal
    traffic while an incident lasts. Only incidents that settle within `platform_s`
    (the platform time the run covers) are played; `skipped` names the others."""

    def __init__(self, platform_s: float, incidents: list[Incident] | None = None, seed: int = 3):
        candidates = incidents if incidents is not None else default_incidents()
        self.incidents = [inc for inc in candidates if inc.settled_s <= platform_s]
        self.skipped = [inc.name for inc in candidates if inc.settled_s > platform_s]
        self._plan = []
        for inc in self.incidents:
            n = len(inc.records)
            for i, rec in enumerate(inc.records):
                self._plan.append((inc.at_s + inc.spread_s * i / max(1, n - 1), rec))
        self._plan.sort(key=lambda p: p[0])
        self._next = 0
        self._ids = Uuid7Generator()
        self._rng = random.Random(seed)
        self._alterations: dict[tuple[int, ...], Alteration] = {}

    def due(self, elapsed: float, now: float | None = None) -> dict[str, list[tuple[bytes, bytes]]]:
        """Records due by `elapsed` platform seconds, stamped with platform time `now`."""
        now = time.time() if now is None else now
        out: dict[str, list[tuple[bytes, bytes]]] = {}
        while self._next < len(self._plan) and self._plan[self._next][0] <= elapsed:
            stream, event = self._plan[self._next][1]
            eid = self._ids.next(now)
            out.setdefault(stream, []).append((eid.encode(), orjson.dumps({**event, "event_id": eid, "ts": now})))
            self._next += 1
        return out

    def alteration(self, elapsed: float) -> Alteration | None:
        """What changes normal traffic at `elapsed` platform seconds (None: nothing); the
        same object as long as the same incidents are active."""
        active = tuple(i for i, inc in enumerate(self.incidents)
                       if inc.alter is not None and inc.at_s <= elapsed < inc.at_s + inc.lasts_s)
        if not active:
            return None
        alteration = self._alterations.get(active)
        if alteration is None:
            alteration = self._alterations[active] = Alteration([self.incidents[i] for i in active], self._rng)
        return alteration

    @property
    def expected_rules(self) -> set[str]:
        return {r for inc in self.incidents for r in inc.expected_rules}
