"""Redaction, applied before anything is written anywhere (normalized topics, signals,
the DLQ payload included).

Kinds (counted per kind in IngestOutput.redacted):

| kind | what | becomes |
|---|---|---|
| card_number | 13-19 digits, single spaces/dashes allowed between them, Luhn-valid (PCI DSS 3.3/3.4) | first 6 + `*` + last 4, separators dropped: `411111******1111` |
| private_key | PEM `-----BEGIN ... PRIVATE KEY-----` blocks (to the END line, or the end of the text) | `[REDACTED:private_key]` |
| jwt | `eyJ...` header.payload.signature | `[REDACTED:jwt]` |
| bearer_token, basic_auth | `Bearer <token>`, `Authorization: Basic <b64>` | scheme kept, credential redacted |
| url_password | `scheme://user:password@host` | password redacted |
| aws_access_key | `AKIA...`/`ASIA...` key ids | `[REDACTED:aws_access_key]` |
| api_key | Stripe `sk_live_...`/`rk_...` keys; `api_key=`/`x-api-key:` values | `[REDACTED:api_key]` |
| token | GitHub `ghp_...`, Slack `xox?-...`; `*token=` values | `[REDACTED:token]` |
| password, secret, private_key, credentials | `password=` / `"password": "..."` / `secret: ...` values, in text or as field names | `[REDACTED:<kind>]` |
| <configured> | IngestConfig.redaction.patterns | `[REDACTED:<kind>]` |
| hashed | values of IngestConfig.redaction.hash_fields | `hmac:<base64url of keyed BLAKE2b>` (joinable, not reversible) |

A card number is a maximal run of digits with single separators; a run longer than
19 digits is also searched for windows of whole separator-delimited groups (a card
followed by a year, "4111 1111 1111 1111 2025"). With IngestConfig.redaction.card_networks_only, only numbers whose
leading digits a card network issues (2-6: Visa, Mastercard, Amex, Discover, JCB,
Diners, UnionPay, Maestro) are masked: Luhn-valid 15-digit thread ids and epoch
timestamps, which start with 1, then stay. A run glued to letters still counts
(PCI errs on the side of masking), except inside a well-formed W3C trace or span id
(32 or 16 hex characters with at least one letter), which is an identifier by
definition. Numbers (ts, metric values) are not text and are not redacted.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass, field

import orjson

from streams.ingest import accel

CARD = "card_number"
_RUN = re.compile(r"[0-9](?:[ -]?[0-9])+")
_RUN13 = re.compile(r"[0-9](?:[ -]?[0-9]){12}")
_ZERO_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
_AFTER_EVENT_ID = len('{"event_id":"00000000-0000-0000-0000-000000000000",')
_SEPARATORS = re.compile(r"[ -]")
_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_W3C_ID = re.compile(r"(?=[0-9]*[a-f])[0-9a-f]{16}(?:[0-9a-f]{16})?\Z")
REDACTED = "[REDACTED:"
_FIELD_KINDS_LIMIT = 10_000

_SECRET_WORDS = (r"password|passwd|passphrase|client[_-]?secret|secret|api[_-]?key|apikey|access[_-]?key"
                 r"|private[_-]?key|token|credentials?")
_KIND_OF_WORD = (("passw", "password"), ("passphrase", "password"), ("secret", "secret"), ("api", "api_key"),
                 ("access", "api_key"), ("private", "private_key"), ("token", "token"), ("credential", "secret"))
# Field names whose whole value is a secret: the name ends with one of the words.
SECRET_FIELD = re.compile(r"(?i)[\w.\-]*?(" + _SECRET_WORDS + r"|authorization|cookie|set-cookie)\Z")

# (kind, compiled pattern, replacement, hints, folded) applied in this order to every
# string. Every text a pattern matches holds one of its hints (a literal; in the
# lowercased text when folded): a pattern none of whose hints is in the text cannot
# change it, and `in` costs a fraction of a regex search that finds nothing.
_PATTERNS: tuple[tuple[str, re.Pattern, str, tuple[str, ...], bool], ...] = (
    ("private_key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
                               r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S | re.A),
     "[REDACTED:private_key]", ("-----BEGIN ",), False),
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[REDACTED:jwt]", ("eyJ",), False),
    ("bearer_token", re.compile(r"(?i)(\bbearer\s+)(?!\[REDACTED)[A-Za-z0-9._~+/=-]{8,}", re.A),
     r"\1[REDACTED:bearer_token]", ("bearer",), True),
    ("basic_auth", re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?basic\s+)(?!\[REDACTED)[A-Za-z0-9+/]+=*",
                                re.A),
     r"\1[REDACTED:basic_auth]", ("authorization",), True),
    ("url_password", re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']+:)(?!\[REDACTED)[^\s@/\"']+(@)", re.A),
     r"\1[REDACTED:url_password]\2", ("://",), False),
    ("aws_access_key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}"
                                  r"(?![A-Z0-9])"), "[REDACTED:aws_access_key]",
     ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA"), False),
    ("api_key", re.compile(r"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[0-9A-Za-z]{10,}"), "[REDACTED:api_key]",
     ("k_live_", "k_test_"), False),
    ("token", re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abposr]-[A-Za-z0-9-]{10,})"),
     "[REDACTED:token]", ("gh", "xox"), False),
)
_KV = re.compile(
    r"(?i)(?<![A-Za-z0-9])(\\?[\"']?)([A-Za-z0-9_.-]*?(?:" + _SECRET_WORDS + r"))\1(\s*[:=]\s*)(?!\\?[\"']?\[REDACTED)"
    r"(\\\"(?:[^\\]|\\[^\"])*?\\\"|\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s\"',;&}\])]+)", re.A)
# _KV's hints: one of the secret words' stems (lowercased text), then ":" or "=".
_KV_WORD_HINTS = ("pass", "secret", "api", "access", "private", "token", "credential")

# The gate: a pattern matching somewhere in any text that a pattern above (or the
# card masker) would change, also when that text is seen JSON-escaped (quotes as \",
# control characters as \t or \u00XX). RE2 runs it over whole batches
# (precheck.py); Python runs it per string before the exact patterns.
_WS = r"(?:\s|\\[tnrbf]|\\u00[01][0-9a-fA-F])"
GATE_PARTS = (
    r"[0-9](?:[ -]?[0-9]){12}",
    r"(?i:(?:" + _SECRET_WORDS + r"|authorization|cookie)[\\\"']*" + _WS + r"*[:=])",
    r"(?i:bearer)" + _WS + r"+[A-Za-z0-9._~+/=-]{8}",
    r"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']+:[^\s@/\"']+@",
    r"eyJ[A-Za-z0-9_-]{4}",
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}",
    r"[sr]k_(?:live|test)_[0-9A-Za-z]{10}",
    r"gh[pousr]_[A-Za-z0-9]{30}|xox[abposr]-[A-Za-z0-9-]{10}",
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY",
)


# What else can turn into a redactable string between the raw bytes and the event:
# JSON \u escapes (digits or letters in disguise), JSON numbers in exponent form
# (1.5e15 becomes "1500000000000000.0"), and values that become field names (OTLP
# `{"key": "password", ...}`, CEF `cs1Label=password`). Decoders produce no other
# text than substrings of the record, constants, and these.
RAW_GATE_PARTS = (
    r"\\u[0-9a-fA-F]{4}",
    r"[:,\[]\s*-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]",
    r"(?i:\"key\"\s*:\s*\"[^\"]*(?:" + _SECRET_WORDS + r"|authorization|cookie)\")",
    r"(?i:label=[^=]*?(?:" + _SECRET_WORDS + r"|authorization|cookie))",
)


def gate_pattern(extra: list[tuple[str, str]] | None = None, raw: bool = False, cards: bool = True) -> str:
    """GATE_PARTS (plus RAW_GATE_PARTS when testing raw records rather than decoded
    strings; cards=False leaves out the card numbers) plus configured (pattern, hint) pairs: a hint (a literal, matched
    case-insensitively) stands for its pattern, else the pattern itself is used."""
    parts = list(GATE_PARTS if cards else GATE_PARTS[1:])
    if raw:
        parts.extend(RAW_GATE_PARTS)
    for pattern, hint in extra or ():
        parts.append("(?i:" + re.escape(hint) + ")" if hint else f"(?:{pattern})")
    return "|".join(parts)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        total += _DOUBLE[d] if i & 1 else d
    return total % 10 == 0


# (first digits low, high, network): IIN ranges of the networks, on the 6 digits a mask keeps.
_NETWORKS = ((4, 4, "visa"), (51, 55, "mastercard"), (2221, 2720, "mastercard"), (34, 34, "amex"),
             (37, 37, "amex"), (6011, 6011, "discover"), (644, 649, "discover"), (65, 65, "discover"),
             (3528, 3589, "jcb"), (300, 305, "diners"), (36, 36, "diners"), (38, 39, "diners"),
             (62, 62, "unionpay"), (50, 50, "maestro"), (56, 69, "maestro"))


def card_network(masked: str) -> str:
    """The card network of a masked number, from its first digits; "unknown" when no
    network issues numbers there (a Luhn-valid id or timestamp, most likely)."""
    for low, high, name in _NETWORKS:
        width = len(str(low))
        if masked[:width].isdigit() and low <= int(masked[:width]) <= high:
            return name
    return "unknown"


def mask(digits: str) -> str:
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def _is_card(digits: str, networks_only: bool) -> bool:
    return luhn(digits) and (not networks_only or card_network(digits) != "unknown")


def _card_spans(run: str, networks_only: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, masked) of the card numbers in one run of digits and separators."""
    digits = _SEPARATORS.sub("", run)
    if 13 <= len(digits) <= 19 and _is_card(digits, networks_only):
        return [(0, len(run), mask(digits))]
    groups = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", run)]
    if len(groups) == 1:
        return []
    spans = []
    i = 0
    while i < len(groups):
        best, count, text = None, 0, ""
        for j in range(i, len(groups)):
            g = run[groups[j][0]:groups[j][1]]
            count += len(g)
            text += g
            if count > 19:
                break
            if count >= 13 and _is_card(text, networks_only):
                best = (j, text)
        if best is not None:
            spans.append((groups[i][0], groups[best[0]][1], mask(best[1])))
            i = best[0] + 1
        else:
            i += 1
    return spans


def mask_cards(text: str, networks_only: bool = False) -> tuple[str, list[str]]:
    """`text` with every card number masked, and the masked numbers found.
    networks_only: only numbers whose leading digits a card network issues."""
    found: list[str] = []
    for _ in range(20):  # masking keeps 10 digits, which may join a neighbour: repeat until stable
        out, last, changed = [], 0, False
        for m in _RUN.finditer(text):
            run = m.group()
            if len(run) < 13:
                continue
            for start, end, masked in _card_spans(run, networks_only):
                out.append(text[last:m.start() + start])
                out.append(masked)
                last = m.start() + end
                found.append(masked)
                changed = True
        if not changed:
            return text, found
        out.append(text[last:])
        text = "".join(out)
    return text, found


def _kind_of(word: str) -> str:
    low = word.lower()
    for needle, kind in _KIND_OF_WORD:
        if needle in low:
            return kind
    return "secret"


def _kv_replacement(counts: dict):
    def repl(m: re.Match) -> str:
        quote, key, sep, value = m.group(1), m.group(2), m.group(3), m.group(4)
        kind = _kind_of(key)
        counts[kind] = counts.get(kind, 0) + 1
        if value.startswith('\\"'):
            new = f'\\"[REDACTED:{kind}]\\"'
        elif value[:1] in ('"', "'"):
            new = f"{value[0]}[REDACTED:{kind}]{value[0]}"
        else:
            new = f"[REDACTED:{kind}]"
        return f"{quote}{key}{quote}{sep}{new}"
    return repl


@dataclass
class Finding:
    """What redacting one event found: counts per kind and masked card numbers with their field."""

    counts: dict[str, int] = field(default_factory=dict)
    cards: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def _serialized_run(ev: dict) -> bool:
    """The serialized event with its separators deleted and digits made zeros: does any
    run of 13 remain? A superset of what Redactor.cards would look at (numbers count
    too), one C call in place of a regex per field."""
    body = orjson.dumps(ev)[_AFTER_EVENT_ID:].translate(_ZERO_DIGITS, b" -")
    return b"0000000000000" in body


_cardscan = accel.load("_cardscan")
_precheck = accel.load("_precheck")
# `_scanned_run(ev)`: exactly, would any string Redactor.cards looks at pass its `_RUN13`
# test (C). A partial rather than a def: the hot loop asks it of every flagged record,
# and a partial of a C function costs no Python frame.
_scanned_run = functools.partial(_cardscan.card_candidate, _W3C_ID.match) if _cardscan is not None else None
_may_hold_card = _scanned_run if _scanned_run is not None and accel.wanted() else _serialized_run
# `_may_hold_card(dict(zip(keys, values)))` with no dict built, for the batch loop's log
# events kept as field values (_hotloop.c); None: the loop asks `_may_hold_card` of a dict.
_may_hold_card_fields = functools.partial(_cardscan.card_candidate_fields, _W3C_ID.match) \
    if _may_hold_card is _scanned_run else None


def raw_gate_built() -> bool:
    """Whether `_precheck` (C) is built, and built for the raw gate `gate_pattern` gives
    today (a change of the patterns here turns it off until _precheck.c follows)."""
    return _precheck is not None and \
        hashlib.sha256(gate_pattern(raw=True).encode()).hexdigest() == _precheck.GATE_SHA256


def _gate_flagged(strings: list[str]) -> list[int]:
    """The indices of the strings in which the raw gate finds something: in the others no
    pattern here and no card mask changes anything (precheck.py relies on the same for
    whole records). One C call for them all, ~10x faster than `Redactor.gate`'s regex."""
    return _precheck.flagged([s.encode("utf-8", "surrogatepass") for s in strings])[0]


class Redactor:
    """Exact redaction of strings and events, with configured extra patterns and hashed fields."""

    def __init__(self, extra: list[tuple[str, str, str]] | None = None, hash_fields: list[str] | None = None,
                 hash_key: bytes = b"", card_networks_only: bool = False):
        """extra: configured (kind, regex, hint) patterns. card_networks_only: mask only
        numbers a card network issues (no Luhn-valid thread ids or epoch timestamps)."""
        self.networks_only = card_networks_only
        self.extra = [(kind, re.compile(pattern)) for kind, pattern, _ in (extra or [])]
        self.gate = re.compile(gate_pattern([(pattern, hint) for _, pattern, hint in (extra or [])]))
        # The C gate, or None: configured patterns are not in it, they keep the regex.
        self._clean = _gate_flagged if not self.extra and raw_gate_built() and accel.wanted() else None
        self.hash_fields = tuple(hash_fields or ())
        self._hash_key = hash_key
        self._hash_cache: dict[str, str] = {}
        self._field_kinds: dict[str, str | None] = {}

    # -- strings -------------------------------------------------------------------
    def text(self, s: str, finding: Finding | None = None, where: str = "", card_exempt: bool = False) -> str:
        """`s` with every secret and card number redacted; what was found goes to `finding`."""
        if finding is None:
            finding = Finding()
        if s not in self._flagged([s]):
            return s
        return self._scrub(s, finding, where, card_exempt)

    def _flagged(self, strings: list[str]) -> set[str]:
        """The strings the gate does not pass (the C gate asked once for them all)."""
        if self._clean is None:
            return {s for s in strings if self.gate.search(s) is not None}
        return {strings[i] for i in self._clean(strings)}

    def _scrub(self, s: str, finding: Finding, where: str, card_exempt: bool) -> str:
        """`text` for a string the gate did not pass."""
        low = None
        for kind, pattern, replacement, hints, folded in _PATTERNS:
            if folded and low is None:
                low = s.lower()
            hay = low if folded else s
            for hint in hints:
                if hint in hay:
                    break
            else:
                continue
            s, n = pattern.subn(replacement, s)
            if n:
                finding.add(kind, n)
                low = None
        if ("=" in s or ":" in s) and any(hint in (low or s.lower()) for hint in _KV_WORD_HINTS):
            counts: dict[str, int] = {}
            s = _KV.sub(_kv_replacement(counts), s)
            for kind, n in counts.items():
                finding.add(kind, n)
        for kind, pattern in self.extra:
            s, n = pattern.subn(f"[REDACTED:{kind}]", s)
            if n:
                finding.add(kind, n)
        if not card_exempt and _RUN13.search(s) is not None:
            s, cards = mask_cards(s, self.networks_only)
            if cards:
                finding.add(CARD, len(cards))
                finding.cards.extend((where, c) for c in cards)
        return s

    def _secret_field(self, name: str) -> str | None:
        """The kind of secret a field of this name holds whole, or None (memoized: a
        stream repeats a handful of attribute names)."""
        try:
            return self._field_kinds[name]
        except KeyError:
            pass
        m = SECRET_FIELD.match(name)
        kind = None
        if m is not None:
            word = m.group(1).lower()
            kind = "token" if word in ("authorization", "cookie", "set-cookie") else _kind_of(word)
        if len(self._field_kinds) >= _FIELD_KINDS_LIMIT:
            self._field_kinds.clear()
        self._field_kinds[name] = kind
        return kind

    def _mapping(self, mapping: dict, finding: Finding, prefix: str, flagged: set[str]) -> dict:
        out = {}
        for k, v in mapping.items():
            key = self._scrub(k, finding, f"{prefix}.key", False) if type(k) is str and k in flagged else k
            if type(v) is str:
                kind = self._secret_field(k) if v and not v.startswith(REDACTED) else None
                if kind is not None:
                    finding.add(kind)
                    v = f"[REDACTED:{kind}]"
                elif v in flagged:
                    # the field's path names the key as redacted: a key may itself hold a number
                    v = self._scrub(v, finding, f"{prefix}.{key}", False)
            out[key] = v
        return out

    # -- events --------------------------------------------------------------------
    def event(self, ev: dict) -> Finding:
        """Redact every string field of a canonical event in place (event_id and kind excepted)."""
        finding = Finding()
        strings = []
        for name, value in ev.items():
            if type(value) is str:
                if name not in ("event_id", "kind"):
                    strings.append(value)
            elif type(value) is dict:
                strings.extend(k for k in value if type(k) is str)
                strings.extend(v for v in value.values() if type(v) is str)
        flagged = self._flagged(strings)
        for name, value in ev.items():
            if type(value) is str:
                if name in ("event_id", "kind") or value not in flagged:
                    continue
                exempt = name in ("trace_id", "span_id") and _W3C_ID.match(value) is not None
                ev[name] = self._scrub(value, finding, name, exempt)
            elif type(value) is dict:
                ev[name] = self._mapping(value, finding, name, flagged)
        return finding

    def cards(self, ev: dict) -> Finding:
        """Card numbers only, for events whose record matched no secret pattern. Digit
        runs are common in raw records (epoch nanoseconds become the event time, not
        text), so first one cheap test: `_may_hold_card`."""
        finding = Finding()
        if not _may_hold_card(ev):
            return finding
        for name, value in ev.items():
            if type(value) is str:
                if name in ("event_id", "kind") or name in ("trace_id", "span_id") and _W3C_ID.match(value):
                    continue
                ev[name] = self._cards_only(value, finding, name)
            elif type(value) is dict:
                out = {}
                for k, v in value.items():
                    key = self._cards_only(k, finding, f"{name}.key") if type(k) is str else k
                    out[key] = self._cards_only(v, finding, f"{name}.{key}") if type(v) is str else v
                ev[name] = out
        return finding

    def _cards_only(self, s: str, finding: Finding, where: str) -> str:
        if len(s) < 13 or _RUN13.search(s) is None:
            return s
        s, found = mask_cards(s, self.networks_only)
        if found:
            finding.add(CARD, len(found))
            finding.cards.extend((where, c) for c in found)
        return s

    def payload(self, text: str) -> tuple[str, Finding]:
        """A dead letter's payload, redacted as text (it may be any format, or none)."""
        finding = Finding()
        return self.text(text, finding, "payload"), finding

    # -- keyed hashing -------------------------------------------------------------
    def hash_value(self, value: str) -> str:
        hit = self._hash_cache.get(value)
        if hit is None:
            digest = hashlib.blake2b(value.encode(), key=self._hash_key, digest_size=16).digest()
            hit = "hmac:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if len(self._hash_cache) > 100_000:
                self._hash_cache.clear()
            self._hash_cache[value] = hit
        return hit

    def hash_event(self, ev: dict) -> int:
        """Replace configured fields (canonical names or attribute/label keys) by their keyed hash."""
        n = 0
        attributes = ev.get("attributes")
        labels = ev.get("labels")
        for name in self.hash_fields:
            for holder in (ev, attributes, labels):
                if holder is not None and name in holder and type(holder[name]) is str and holder[name]:
                    holder[name] = self.hash_value(holder[name])
                    n += 1
        return n
