"""Redactor's shortcuts (the gate asked once per event, each pattern's literal hints,
the memo of secret field names) change how much work redaction does, never its result:
checked here against every pattern applied to every string, with no shortcut at all."""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.ingest import redact
from streams.ingest.redact import _KV, _PATTERNS, _W3C_ID, REDACTED, SECRET_FIELD, Finding, Redactor

PROPS = settings(max_examples=int(os.environ.get("SLUICE_PROP_EXAMPLES", "150")), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])

# Pieces that make or nearly make each pattern match, joined in any order.
FRAGMENTS = [
    "password", "PassWord", "passwd", "client_secret", "api-key", "ApiKey", "access_key", "private_key",
    "token", "credentials", "=", ":", " : ", "\"", "'", "\\\"", " ", "-", "hunter2", "s3cr3t", "x",
    "Bearer ", "bearer\t", "BEARER ", "abcdefghijklmnop", "Authorization: Basic ", "authorization=basic ",
    "dXNlcjpwYXNz", "https://", "user:", "pw@", "@host", "eyJhbGciOiJIUzI1NiJ9", ".", "eyJzdWIiOiIxMjM0In0",
    "AKIA", "ASIAABCDEFGHIJKLMNOP", "AKIAIOSFODNN7EXAMPLE", "sk_live_", "rk_test_", "0123456789ab",
    "ghp_", "a" * 30, "xoxb-", "1234567890-abc", "-----BEGIN RSA PRIVATE KEY-----", "MIIEvQ",
    "-----END RSA PRIVATE KEY-----", "4111 1111 1111 1111", "5500-0000-0000-0004", "4111111111111111",
    "1767225581823600640", "2025", "0", "[REDACTED:password]", "İ", "\u212a", "é", "\n",
]
TEXTS = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join) | st.text(max_size=40)


def reference_text(s: str, finding: Finding, where: str = "", card_exempt: bool = False, extra=()) -> str:
    """Redactor.text without any shortcut: every pattern on every string."""
    for kind, pattern, replacement, _hints, _folded in _PATTERNS:
        s, n = pattern.subn(replacement, s)
        if n:
            finding.add(kind, n)
    counts: dict[str, int] = {}
    s = _KV.sub(redact._kv_replacement(counts), s)
    for kind, n in counts.items():
        finding.add(kind, n)
    for kind, pattern in extra:
        s, n = pattern.subn(f"[REDACTED:{kind}]", s)
        if n:
            finding.add(kind, n)
    if not card_exempt:
        s, cards = redact.mask_cards(s)
        if cards:
            finding.add(redact.CARD, len(cards))
            finding.cards.extend((where, c) for c in cards)
    return s


def reference_event(ev: dict, extra=()) -> Finding:
    finding = Finding()
    for name, value in ev.items():
        if type(value) is str:
            if name in ("event_id", "kind"):
                continue
            exempt = name in ("trace_id", "span_id") and _W3C_ID.match(value) is not None
            ev[name] = reference_text(value, finding, name, exempt, extra)
        elif type(value) is dict:
            out = {}
            for k, v in value.items():
                key = reference_text(k, finding, f"{name}.key", extra=extra) if type(k) is str else k
                if type(v) is str:
                    m = SECRET_FIELD.match(k)
                    if m is not None and v and not v.startswith(REDACTED):
                        word = m.group(1).lower()
                        kind = "token" if word in ("authorization", "cookie", "set-cookie") else redact._kind_of(word)
                        finding.add(kind)
                        v = f"[REDACTED:{kind}]"
                    else:
                        v = reference_text(v, finding, f"{name}.{key}", extra=extra)
                out[key] = v
            ev[name] = out
    return finding


@PROPS
@given(TEXTS)
def test_text_is_every_pattern_applied(s):
    finding, expected = Finding(), Finding()
    assert Redactor().text(s, finding, "f") == reference_text(s, expected, "f")
    assert finding == expected


@PROPS
@given(st.dictionaries(st.sampled_from(["message", "host", "trace_id", "actor", "event_id"]), TEXTS, max_size=4),
       st.dictionaries(TEXTS | st.sampled_from(["password", "db.Password", "x-api-key", "cookie", "ok"]),
                       TEXTS | st.integers(), max_size=5))
def test_event_is_every_pattern_applied(fields, attributes):
    ev = {"kind": "log", **fields, "attributes": attributes}
    ours, theirs = {**ev, "attributes": dict(attributes)}, {**ev, "attributes": dict(attributes)}
    assert Redactor().event(ours) == reference_event(theirs)
    assert ours == theirs


@PROPS
@given(TEXTS)
def test_configured_patterns_take_the_same_road(s):
    extra = [("iban", r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b", "")]
    ev, expected = {"kind": "log", "message": s + " DE89370400440532013000"}, None
    expected = dict(ev)
    ours = Redactor(extra).event(ev)
    assert ours == reference_event(expected, [(k, re.compile(p)) for k, p, _ in extra])
    assert ev == expected


def test_a_secret_field_name_is_remembered_and_the_memo_stays_bounded(monkeypatch):
    monkeypatch.setattr(redact, "_FIELD_KINDS_LIMIT", 3)
    r = Redactor()
    for i in range(10):
        ev = {"kind": "log", "attributes": {f"f{i}": "v", "password": "p"}}
        r.event(ev)
        assert ev["attributes"] == {f"f{i}": "v", "password": "[REDACTED:password]"}
        assert len(r._field_kinds) <= 3
