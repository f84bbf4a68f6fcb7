"""A synthetic sidecar: realistic payments-platform telemetry at a chosen rate.

Logs from api-gateway, payments, ledger, auth, settlement, fraud; metric samples
(request latency, error counts, payment amounts, queue depth, consumer lag); security
events (logins, privilege changes, sudo). Every event gets a UUIDv7 at the edge. A
few malformed records are mixed in on purpose (`poison_every`) so the dead-letter path
is always exercised.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from collectors.ids import Uuid7Generator

SERVICES = ("api-gateway", "payments", "ledger", "auth", "settlement", "fraud")
HOSTS = tuple(f"{svc}-{i}" for svc in SERVICES for i in range(3))
PROVIDERS = ("adyen", "stripe", "worldpay", "checkout")
CURRENCIES = ("EUR", "USD", "GBP")
MERCHANTS = tuple(f"m-{i:04d}" for i in range(40))
ROUTES = ("/v1/payments", "/v1/refunds", "/v1/customers", "/v1/payouts", "/healthz")
USERS = tuple(f"user{i}" for i in range(200))
ADMINS = ("alice", "bob", "carol")
TENANTS = ("acme-pay", "globex")

# Inputs no decoder can make an event of (plain text would become a log line).
POISON = (b'{"ts": "2026-01-01T00:00:00Z", "msg": "truncated', b"\xff\xfe not utf-8 \x80",
          b'["a", "json", "array"]', b"")


@dataclass
class Mix:
    logs: float = 0.6
    metrics: float = 0.3
    security: float = 0.1


def _log_templates(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        svc = rng.choice(SERVICES)
        roll = rng.random()
        level = "error" if roll < 0.01 else "warn" if roll < 0.05 else "info"
        d = {"level": level, "service": svc, "host": rng.choice([h for h in HOSTS if h.startswith(svc)]),
             "env": "prod", "tenant": rng.choice(TENANTS), "trace_id": f"{rng.getrandbits(128):032x}",
             "span_id": f"{rng.getrandbits(64):016x}"}
        if svc == "payments":
            status = "failed" if rng.random() < 0.02 else "authorized"
            d.update(msg=f"payment {status}", provider=rng.choice(PROVIDERS), currency=rng.choice(CURRENCIES),
                     merchant=rng.choice(MERCHANTS), amount=round(rng.lognormvariate(3.5, 1.0), 2),
                     status=status)
        elif svc == "api-gateway":
            code = 500 if level == "error" else 429 if level == "warn" else 200
            d.update(msg=f"POST {rng.choice(ROUTES)} {code}", http={"status": code, "method": "POST"},
                     duration_ms=round(rng.lognormvariate(3.0, 0.6), 1))
        elif svc == "ledger":
            d.update(msg="journal entry posted", entries=rng.randint(2, 6))
        elif svc == "settlement":
            d.update(msg="settlement batch progress", batch=f"b-{rng.randint(1, 999)}")
        else:
            d.update(msg="request handled" if level == "info" else "upstream slow")
        out.append(d)
    return out


def _metric_templates(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        svc = rng.choice(SERVICES)
        kind = rng.random()
        labels = {"route": rng.choice(ROUTES), "region": rng.choice(("eu-west-1", "us-east-1"))}
        if kind < 0.5:
            d = {"name": "http_request_duration_seconds", "type": "gauge", "unit": "s",
                 "value": round(rng.lognormvariate(-3.0, 0.7), 5)}
        elif kind < 0.7:
            d = {"name": "http_requests_errors_total", "type": "counter", "value": rng.randint(0, 500)}
        elif kind < 0.85:
            svc = "payments"
            labels = {"provider": rng.choice(PROVIDERS), "currency": rng.choice(CURRENCIES)}
            d = {"name": "payment_amount", "type": "gauge", "unit": "currency",
                 "value": round(rng.lognormvariate(3.5, 1.0), 2)}
        elif kind < 0.95:
            d = {"name": "queue_depth", "type": "gauge", "value": rng.randint(0, 200)}
            labels = {"queue": rng.choice(("payouts", "webhooks", "ledger-sync"))}
        else:
            d = {"name": "consumer_lag", "type": "gauge", "value": rng.randint(0, 5000)}
            labels = {"group": "ledger-consumer"}
        d.update(service=svc, host=rng.choice([h for h in HOSTS if h.startswith(svc)]), env="prod",
                 tenant=rng.choice(TENANTS), labels=labels)
        out.append(d)
    return out


def _security_templates(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        roll = rng.random()
        ip = f"10.{rng.randint(0, 20)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if roll < 0.8:
            ok = rng.random() < 0.93
            d = {"category": "authentication", "action": "login", "outcome": "success" if ok else "failure",
                 "user": rng.choice(USERS), "source_ip": ip, "service": "auth",
                 "msg": "login succeeded" if ok else "invalid password"}
        elif roll < 0.95:
            d = {"category": "privilege", "action": "sudo", "outcome": "success", "user": rng.choice(ADMINS),
                 "target": "root", "source_ip": ip, "service": "ledger", "command": "/usr/bin/systemctl status ledger",
                 "msg": "sudo command"}
        else:
            d = {"category": "authorization", "action": "role_grant", "outcome": "success",
                 "user": rng.choice(ADMINS), "target": rng.choice(USERS), "role": "support", "service": "auth",
                 "source_ip": ip, "msg": "role granted"}
        d.update(host=f"{d['service']}-{rng.randint(0, 2)}", env="prod", tenant=rng.choice(TENANTS))
        out.append(d)
    return out


class SyntheticSource:
    """Makes (key, value) records per stream; key = the event id (b"" for poison)."""

    def __init__(self, seed: int = 7, mix: Mix | None = None, poison_every: int = 20000):
        rng = random.Random(seed)
        self.rng = rng
        self.mix = mix or Mix()
        self.templates = {"logs": _log_templates(rng, 3000), "metrics": _metric_templates(rng, 2000),
                          "security": _security_templates(rng, 1000)}
        # Each template is serialized once; a record is its JSON with the id and ts spliced
        # in before the closing brace, which orjson would write byte for byte the same.
        self._heads = {stream: [orjson.dumps(d)[:-1] + b',"event_id":"' for d in pool]
                       for stream, pool in self.templates.items()}
        self.ids = Uuid7Generator()
        self.poison_every = poison_every
        self._count = 0
        self._touched: tuple[object, dict[str, frozenset[int]]] = (None, {})

    def batch(self, n: int, now: float | None = None,
              alter: Callable[[str, dict], None] | None = None) -> dict[str, list[tuple[bytes, bytes]]]:
        """`n` records stamped `now`; `alter(stream, event)` may change each event (an incident).
        It may set, replace or delete an event's fields, not change a nested value in place:
        those are shared with the template the event is made from."""
        n = max(n, 0)
        now = time.time() if now is None else now
        out: dict[str, list[tuple[bytes, bytes]]] = {"logs": [], "metrics": [], "security": []}
        poison = self._poison(n)
        m = n - len(poison)
        ids = self.ids.many(m, now)
        draw = self.rng.random
        draws = [draw() for _ in range(2 * m)]  # per event: the stream, then the template
        tail = b'","ts":' + orjson.dumps(now) + b"}"
        done = 0
        for i, (at, record) in enumerate(poison):
            upto = at - i  # events before this poison record
            self._events(out, draws[2 * done:2 * upto], ids[done:upto], tail, now, alter)
            out["logs"].append((b"", record))
            done = upto
        self._events(out, draws[2 * done:], ids[done:], tail, now, alter)
        return out

    def _poison(self, n: int) -> list[tuple[int, bytes]]:
        """Counts n more records; returns (index in the batch, record) of the poison among them."""
        every, start = self.poison_every, self._count
        self._count += n
        if not every:
            return []
        first = (start // every + 1) * every
        return [(c - start - 1, POISON[(c // every) % len(POISON)]) for c in range(first, start + n + 1, every)]

    def _events(self, out: dict[str, list[tuple[bytes, bytes]]], draws: list[float], ids: list[bytes],
                tail: bytes, now: float, alter: Callable[[str, dict], None] | None) -> None:
        cut_logs = self.mix.logs
        cut_metrics = cut_logs + self.mix.metrics
        heads = self._heads
        touched = self._touched_by(alter)
        for r, q, eid in zip(draws[::2], draws[1::2], ids, strict=True):
            stream = "logs" if r < cut_logs else "metrics" if r < cut_metrics else "security"
            pool = heads[stream]
            i = int(q * len(pool))
            value = None
            if alter is not None and (touched is None or i in touched[stream]):
                value = self._altered(stream, i, eid, now, alter)
            out[stream].append((eid, value or pool[i] + eid + tail))

    def _touched_by(self, alter: Callable[[str, dict], None] | None) -> dict[str, frozenset[int]] | None:
        """Per stream, the templates `alter` may change, when it says (`may_change`, see
        collectors.incidents.Alteration); None: any of them."""
        may_change = getattr(alter, "may_change", None)
        if may_change is None:
            return None
        if self._touched[0] is not alter:
            self._touched = (alter, {stream: frozenset(i for i, t in enumerate(pool) if may_change(stream, t))
                                     for stream, pool in self.templates.items()})
        return self._touched[1]

    def _altered(self, stream: str, i: int, eid: bytes, now: float, alter: Callable[[str, dict], None]) -> bytes | None:
        """The record of an event `alter` changes, built as always (a dict through orjson);
        None if it leaves the event as it is."""
        event = _Event(self.templates[stream][i])
        alter(stream, event)
        if not event.changed:
            return None
        d = dict(event)
        d["event_id"] = eid.decode()
        d["ts"] = now
        return orjson.dumps(d)


class _Event(dict):
    """An event handed to `alter` that notes whether it was changed (any mutating call
    counts): comparing it with its template afterwards would cost more than making
    the record."""

    changed = False


def _noting(method: Callable) -> Callable:
    def mutate(self: _Event, *args, **kwargs):
        self.changed = True
        return method(self, *args, **kwargs)
    return mutate


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault", "update"):
    setattr(_Event, _name, _noting(getattr(dict, _name)))
