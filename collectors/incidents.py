"""Incidents the demo injects into the synthetic traffic, each meant to raise one
rule's alert (normal traffic raises none): a card number written to a log line, and
an SSH brute force from one address that ends in a successful login."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson

from collectors.ids import Uuid7Generator

ATTACKER_IP = "203.0.113.66"


@dataclass
class Incident:
    name: str
    at_fraction: float  # when, as a fraction of the run
    expected_rules: tuple[str, ...]
    records: list[tuple[str, dict]] = field(default_factory=list)  # (stream, event without id/ts)
    spread_s: float = 0.0  # records are spaced evenly over this many seconds


def default_incidents() -> list[Incident]:
    card = Incident("card number in a payments log line", 0.25, ("compliance.card_number_in_logs",), [
        ("logs", {"level": "error", "service": "payments", "host": "payments-1", "env": "prod",
                  "tenant": "acme-pay", "msg": "charge declined for card 4111 1111 1111 1111 exp 12/29",
                  "provider": "adyen"})])
    failures = [("security", {"category": "authentication", "action": "login", "outcome": "failure",
                              "user": "root", "target": "root", "source_ip": ATTACKER_IP, "service": "bastion",
                              "host": "bastion-1", "env": "prod", "tenant": "acme-pay", "protocol": "ssh",
                              "msg": "Failed password for root"}) for _ in range(12)]
    success = [("security", {"category": "authentication", "action": "login", "outcome": "success",
                             "user": "alice", "target": "alice", "source_ip": ATTACKER_IP, "service": "bastion",
                             "host": "bastion-1", "env": "prod", "tenant": "acme-pay", "protocol": "ssh",
                             "msg": "Accepted password for alice"})]
    brute = Incident("SSH brute force then a successful login", 0.4,
                     ("security.ssh_brute_force", "security.success_after_failures"), failures + success, 6.0)
    return [card, brute]


class IncidentScript:
    """Releases each incident's records at their time in a run of `seconds`."""

    def __init__(self, seconds: float, incidents: list[Incident] | None = None):
        self.incidents = incidents if incidents is not None else default_incidents()
        self._plan = []
        for inc in self.incidents:
            n = len(inc.records)
            for i, rec in enumerate(inc.records):
                offset = inc.spread_s * i / max(1, n - 1)
                self._plan.append((inc.at_fraction * seconds + offset, rec))
        self._plan.sort(key=lambda p: p[0])
        self._next = 0
        self._ids = Uuid7Generator()

    def due(self, elapsed: float, now: float | None = None) -> dict[str, list[tuple[bytes, bytes]]]:
        now = time.time() if now is None else now
        out: dict[str, list[tuple[bytes, bytes]]] = {}
        while self._next < len(self._plan) and self._plan[self._next][0] <= elapsed:
            stream, event = self._plan[self._next][1]
            eid = self._ids.next(now)
            out.setdefault(stream, []).append((eid.encode(), orjson.dumps({**event, "event_id": eid, "ts": now})))
            self._next += 1
        return out

    @property
    def expected_rules(self) -> set[str]:
        return {r for inc in self.incidents for r in inc.expected_rules}
