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
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter

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
    """Makes records per stream: (event id, JSON object), or (ids, JSON array) items
    with events_per_record > 1; poison is (b"", its bytes).

    The load generator shares the demo's two cores with the pipeline it feeds, so a
    batch is drawn and built in a few C-level passes, not event by event: per event the
    stream (one uniform draw against the mix), then its template (16 random bits into
    the pool repeated to 65,536 entries), then the record: the template's serialized
    head, the id and the ts spliced together (and arrays joined from those pieces),
    which orjson would write byte for byte the same (tests/unit/collectors/
    test_synthetic.py builds each one that way)."""

    def __init__(self, seed: int = 7, mix: Mix | None = None, poison_every: int = 20000,
                 events_per_record: int = 1):
        """events_per_record > 1: a stream's events come in records of JSON arrays of up to
        that many, as agents ship a batch: items (the events' ids, the array) that
        collectors.publisher.Publisher produces as they are."""
        if events_per_record < 1:
            raise ValueError(f"events_per_record must be at least 1, not {events_per_record}")
        rng = random.Random(seed)
        self.rng = rng
        self.mix = mix or Mix()
        self.events_per_record = events_per_record
        self.templates = {"logs": _log_templates(rng, 3000), "metrics": _metric_templates(rng, 2000),
                          "security": _security_templates(rng, 1000)}
        # Each template serialized once, open where the id goes, and repeated to DRAW_SPAN
        # entries so that 16 random bits pick one (pool sizes not dividing the span favour
        # the first few templates by at most one repeat in 21: realistic traffic is skewed).
        self._heads = {stream: _spanned([orjson.dumps(d)[:-1] + b',"event_id":"' for d in pool])
                       for stream, pool in self.templates.items()}
        self.ids = Uuid7Generator()
        self.poison_every = poison_every
        self._count = 0
        self._touched: tuple[object, dict[str, bytes]] = (None, {})

    def batch(self, n: int, now: float | None = None, alter: Callable[[str, dict], None] | None = None) -> dict[str, list]:
        """`n` records' worth of events stamped `now`, per stream: (event id, JSON object)
        items, or (ids, JSON array) ones with events_per_record > 1; poison is (b"", bytes).
        `alter(stream, event)` may change each event (an incident): set, replace or delete
        its fields, not change a nested value in place (those are the template's)."""
        n = max(n, 0)
        now = time.time() if now is None else now
        poison = self._poison(n)
        draws = self.draw(n - len(poison))
        ids = self.ids.many(n - len(poison), now)
        tail = b'","ts":' + orjson.dumps(now) + b"}"
        touched = self._touched_by(alter)
        out: dict[str, list] = {}
        done = 0
        for stream, picks in draws.items():
            keys = ids[done:done + len(picks)]
            done += len(picks)
            heads = _picked(self._heads[stream], picks)
            altered = {} if alter is None else self._altered_all(stream, picks, keys, now, alter, touched)
            if self.events_per_record > 1:
                out[stream] = self._arrays(heads, keys, tail, altered)
            else:
                values = list(map(b"".join, zip(heads, keys, repeat(tail))))
                for j, value in altered.items():
                    values[j] = value
                out[stream] = list(zip(keys, values, strict=True))
        for at, record in poison:  # among the logs, as far in as they are in the batch
            logs = out["logs"]
            logs.insert(at * len(logs) // n, (b"", record))
        return out

    def _arrays(self, heads, keys: list[bytes], tail: bytes, altered: dict[int, bytes]) -> list[tuple[list, bytes]]:
        """(ids, JSON array) records of up to events_per_record events, each joined once from
        the pieces of its events (head, id, tail) with no bytes object made per event."""
        k, per = len(keys), self.events_per_record
        pieces = [tail + b","] * (3 * k + 1)  # pieces[3j + 1:3j + 4]: event j's head, id and tail
        pieces[1::3] = heads
        pieces[2::3] = keys
        for j, value in altered.items():
            pieces[3 * j + 1:3 * j + 4] = value, b"", b","
        out = []
        for at in range(0, k, per):
            end = min(at + per, k)
            chunk = pieces[3 * at:3 * end + 1]  # the one before event `at` is the "[" of this copy
            chunk[0] = b"["
            chunk[-1] = b"]" if end - 1 in altered else tail + b"]"
            out.append((keys[at:end], b"".join(chunk)))
        return out

    def draw(self, m: int) -> dict[str, array]:
        """The template picks (indexes into the spanned pools) of m events, per stream."""
        draw = self.rng.random
        r = [draw() for _ in range(m)]
        logs = sum(map(float(self.mix.logs).__gt__, r))
        metrics = sum(map(float(self.mix.logs + self.mix.metrics).__gt__, r)) - logs
        picks = array("H", self.rng.randbytes(2 * m))
        return {"logs": picks[:logs], "metrics": picks[logs:logs + metrics], "security": picks[logs + metrics:]}

    def template(self, stream: str, pick: int) -> dict:
        """The template a pick of `draw` stands for."""
        pool = self.templates[stream]
        return pool[pick % len(pool)]

    def _poison(self, n: int) -> list[tuple[int, bytes]]:
        """Counts n more records; returns (index in the batch, record) of the poison among them."""
        every, start = self.poison_every, self._count
        self._count += n
        if not every:
            return []
        first = (start // every + 1) * every
        return [(c - start - 1, POISON[(c // every) % len(POISON)]) for c in range(first, start + n + 1, every)]

    def _altered_all(self, stream: str, picks: array, keys: list[bytes], now: float,
                     alter: Callable[[str, dict], None], touched: dict[str, bytes] | None) -> dict[int, bytes]:
        """{position: record} of the events `alter` changes."""
        if touched is None:
            candidates = range(len(picks))
        else:  # the picks of templates alter may change, found by bytes.find, not by a loop in Python
            candidates = _positions(bytes(map(touched[stream].__getitem__, picks)))
        out = {}
        for j in candidates:
            value = self._altered(stream, picks[j], keys[j], now, alter)
            if value is not None:
                out[j] = value
        return out

    def _touched_by(self, alter: Callable[[str, dict], None] | None) -> dict[str, bytes] | None:
        """Per stream, a byte per pick: 1 where `alter` may change the template (`may_change`,
        see collectors.incidents.Alteration); None: it may change any of them."""
        may_change = getattr(alter, "may_change", None)
        if may_change is None:
            return None
        if self._touched[0] is not alter:
            self._touched = (alter, {stream: bytes(_spanned([may_change(stream, t) for t in pool]))
                                     for stream, pool in self.templates.items()})
        return self._touched[1]

    def _altered(self, stream: str, pick: int, eid: bytes, now: float, alter: Callable[[str, dict], None]) -> bytes | None:
        """The record of an event `alter` changes, built as always (a dict through orjson);
        None if it leaves the event as it is."""
        event = _Event(self.template(stream, pick))
        alter(stream, event)
        if not event.changed:
            return None
        d = dict(event)
        d["event_id"] = eid.decode()
        d["ts"] = now
        return orjson.dumps(d)


DRAW_SPAN = 1 << 16  # picks are 16 random bits


def _spanned(pool: list) -> tuple:
    """The pool repeated to DRAW_SPAN entries."""
    return tuple((pool * (DRAW_SPAN // len(pool) + 1))[:DRAW_SPAN])


def _picked(pool: tuple, picks: array) -> tuple | list:
    """pool[p] for each pick: itemgetter takes them in one C call (twice as fast as a
    map here), but returns a lone item for one pick and takes none for none."""
    return itemgetter(*picks)(pool) if len(picks) > 1 else [pool[p] for p in picks]


def _positions(flags: bytes):
    """The indexes of the 1 bytes in `flags`."""
    at = flags.find(1)
    while at >= 0:
        yield at
        at = flags.find(1, at + 1)


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
