"""Per-event cost of ingest (decode + normalize + redact + enrich + encode) on one
core, in memory, through `Ingestor.process` in batches of 10,000 records.

The mixed corpus mirrors what collectors send: JSON logs are the bulk (65 %; flat,
nested/ECS and OpenTelemetry-style names, ISO and epoch times), then metric samples
as JSON (10 %), security events as JSON (5 %), logfmt, RFC 3164/5424 syslog, sshd /
sudo auth lines and nginx access lines (5 % each). One record in 200 carries a card
number or a secret, so the exact redaction path is part of the cost. Enrichment
runs with the example tables of config/enrichment/.

Absolute figures depend on the machine, so the run also measures a floor on the same
records: `orjson.loads` + `orjson.dumps` of each JSON record (for a text record,
`orjson.dumps` of the line as a message: the least any pipeline does to carry it),
and reports ingest as a ratio of that floor (best pass against best pass; the ratio of
each round's adjacent passes too, which shows how much the machine's load moves it).
Targets: ingest_vs_floor >= 0.35 and >= 100,000 JSON-log events/s on one core.

    python -m benchmarks.bench_ingest [n]
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from pathlib import Path

import orjson

from schemas.topics import Topics
from streams.ingest.pipeline import IngestConfig, Ingestor

BATCH = 10_000
OBSERVED = 1_767_225_600.0  # 2026-01-01T00:00:00Z
TOPICS = Topics()
ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["payments-api", "ledger", "api-gateway", "fraud-scoring", "checkout-web", "card-vault", "payouts",
            "notifications", "kyc", "risk-engine"]
HOSTS = [f"{s}-{i:02d}" for s in ("pay", "ledger", "gw", "fraud") for i in range(12)] + ["bastion-01"]
LEVELS = ["info"] * 14 + ["debug"] * 3 + ["warn"] * 2 + ["error"]
ROUTES = ["/v1/charges", "/v1/refunds", "/v1/payouts", "/v1/customers", "/health", "/v1/tokens"]
USERS = ["alice", "bob", "deploy", "root", "admin", "carol", "svc-backup"]
SECRETS = ["card 4111 1111 1111 1111 declined", "pan=5500-0000-0000-0004", "password=hunter2 rejected",
           "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc123def456"]


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _message(rnd: random.Random, i: int) -> str:
    if rnd.random() < 0.005:
        return rnd.choice(SECRETS)
    return rnd.choice([
        f"charge authorized order_id=ord_{i:08d} amount={rnd.uniform(1, 500):.2f} currency=EUR",
        f"request handled route={rnd.choice(ROUTES)} status=200 duration_ms={rnd.randrange(1, 900)}",
        "upstream timeout after 3 retries", "cache miss for merchant config", "payout batch queued",
    ])


def json_log(rnd: random.Random, i: int, ts: float) -> dict:
    style = rnd.random()
    service, host, level = rnd.choice(SERVICES), rnd.choice(HOSTS), rnd.choice(LEVELS)
    trace = f"{rnd.getrandbits(128):032x}"
    if style < 0.6:
        return {"ts": _iso(ts), "level": level, "service": service, "host": host, "msg": _message(rnd, i),
                "trace_id": trace, "span_id": f"{rnd.getrandbits(64):016x}", "http.method": "POST",
                "http.route": rnd.choice(ROUTES), "http.status_code": rnd.choice([200, 200, 201, 400, 502]),
                "duration_ms": round(rnd.uniform(0.5, 900), 2), "tenant": rnd.choice(["acme", "globex"])}
    if style < 0.85:
        return {"@timestamp": _iso(ts), "log": {"level": level, "logger": "app.handlers"},
                "service": {"name": service, "version": "1.42.0"}, "host": {"name": host},
                "message": _message(rnd, i), "trace": {"id": trace},
                "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
                "labels": {"region": "eu-west-1"}}
    return {"timeUnixNano": str(int(ts * 1e9)), "severityText": level.upper(), "body": _message(rnd, i),
            "resource": {"service.name": service, "host.name": host}, "traceId": trace,
            "attributes": {"payment.provider": rnd.choice(["adyen", "stripe"]), "merchant": f"m-{i % 50}"}}


def record(rnd: random.Random, i: int, json_only: bool = False) -> tuple[bytes, str]:
    ts = OBSERVED - 30 + rnd.random() * 30
    r = 0.0 if json_only else rnd.random()
    service, host, user = rnd.choice(SERVICES), rnd.choice(HOSTS), rnd.choice(USERS)
    stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(ts))
    ip = f"203.0.113.{rnd.randrange(1, 255)}"
    if r < 0.65:
        return orjson.dumps(json_log(rnd, i, ts)), TOPICS.raw("logs")
    if r < 0.75:
        sample = {"name": rnd.choice(["http_request_duration_seconds", "queue_depth", "payments_total"]),
                  "value": round(rnd.uniform(0, 100), 3), "type": "gauge", "ts": ts, "service": service,
                  "host": host, "labels": {"route": rnd.choice(ROUTES), "status": "200"}}
        return orjson.dumps(sample), TOPICS.raw("metrics")
    if r < 0.80:
        sec = {"ts": ts, "category": "authentication", "action": "login", "outcome": rnd.choice(["success", "failure"]),
               "user": user, "source_ip": ip, "service": "auth-service", "host": host,
               "message": f"login attempt for {user}", "mfa": "totp"}
        return orjson.dumps(sec), TOPICS.raw("security")
    if r < 0.85:
        line = (f'ts={_iso(ts)} level={rnd.choice(LEVELS)} service={service} host={host} '
                f'msg="{_message(rnd, i)}" duration_ms={rnd.randrange(900)}')
        return line.encode(), TOPICS.raw("logs")
    if r < 0.90:
        if rnd.random() < 0.5:
            line = f"<134>{stamp} {host} {service}[{rnd.randrange(1, 65535)}]: {_message(rnd, i)}"
        else:
            line = (f"<165>1 {_iso(ts)} {host} {service} {rnd.randrange(1, 65535)} ID47 "
                    f'[meta@32473 region="eu-west-1"] {_message(rnd, i)}')
        return line.encode(), TOPICS.raw("logs")
    if r < 0.95:
        msg = rnd.choice([
            f"Failed password for {user} from {ip} port {rnd.randrange(1024, 65535)} ssh2",
            f"Accepted publickey for {user} from {ip} port {rnd.randrange(1024, 65535)} ssh2: ED25519 SHA256:x1",
            f"Invalid user {user}x from {ip} port {rnd.randrange(1024, 65535)}",
            f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)",
        ])
        if rnd.random() < 0.2:
            return (f"<86>{stamp} bastion-01 sudo:   {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; "
                    f"COMMAND=/usr/bin/systemctl restart nginx").encode(), TOPICS.raw("logs")
        return f"<38>{stamp} bastion-01 sshd[{rnd.randrange(1, 65535)}]: {msg}".encode(), TOPICS.raw("logs")
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
    line = (f'{ip} - - [{stamp}] "GET {rnd.choice(ROUTES)} HTTP/1.1" {rnd.choice([200, 200, 404, 502])} '
            f'{rnd.randrange(100, 90000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"')
    return line.encode(), TOPICS.raw("logs")


def corpus(n: int, json_only: bool = False, seed: int = 7) -> list[tuple[bytes, str, int, int]]:
    rnd = random.Random(seed)
    return [(*record(rnd, i, json_only), i % 4, i) for i in range(n)]


def _floor_one(value: bytes) -> bytes:
    if value[:1] == b"{":
        return orjson.dumps(orjson.loads(value))
    return orjson.dumps({"message": value.decode()})


def _once(fn, records: list) -> float:
    """CPU seconds of this process (other processes on a shared machine distort the
    figures less than with wall time) for one pass, batch by batch as a worker sees them."""
    gc.collect()
    t0 = time.process_time()
    for start in range(0, len(records), BATCH):
        fn(records[start:start + BATCH])
    return time.process_time() - t0


def _passes(pairs: list[tuple], repeat: int) -> list[list[float]]:
    """`repeat` rounds of one pass of each (fn, records), interleaved so that a change of
    load on the machine hits every measurement alike: the seconds of each pass, per round."""
    return [[_once(fn, records) for fn, records in pairs] for _ in range(repeat)]


def _ingestor() -> Ingestor:
    enrichment = {"services": ROOT / "config/enrichment/services.yaml", "hosts": ROOT / "config/enrichment/hosts.csv"}
    cfg = IngestConfig(enrichment=enrichment)
    return Ingestor(TOPICS, cfg)


def run(n: int = 200_000, repeat: int = 3) -> dict:
    mixed = corpus(n)
    json_logs = corpus(n, json_only=True, seed=11)
    ingestor = _ingestor()

    def floor(batch):
        for value, *_ in batch:
            _floor_one(value)

    def ingest(batch):
        return ingestor.process(batch, OBSERVED)

    ingest(mixed[:BATCH])  # warm the caches (time parsing, ids) like a running worker
    rounds = _passes([(floor, mixed), (ingest, mixed), (ingest, json_logs)], repeat)
    floor_s, ingest_s, json_s = (min(column) for column in zip(*rounds, strict=True))
    return {
        "ingest_events_per_s": round(n / ingest_s),
        "json_logs_events_per_s": round(n / json_s),
        "floor_events_per_s": round(n / floor_s),
        "ingest_vs_floor": round(floor_s / ingest_s, 3),
        # the ratio of each round's two adjacent passes: how much the machine moved it
        "ingest_vs_floor_by_round": [round(f / i, 3) for f, i, _ in rounds],
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(json.dumps(run(n), indent=2))


if __name__ == "__main__":
    main()
