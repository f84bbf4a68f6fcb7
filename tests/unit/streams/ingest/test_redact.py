from __future__ import annotations

import orjson
import pytest

from streams.ingest.precheck import PreCheck
from streams.ingest.redact import Redactor, luhn, mask_cards

R = Redactor()


@pytest.mark.parametrize("number", ["4111111111111111", "5500000000000004", "340000000000009", "6011000000000004",
                                    "4222222222222", "6304000000000000000", "3530111333300000"])
def test_luhn_valid(number):
    assert luhn(number)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567812345678", "5500000000000005"])
def test_luhn_invalid(number):
    assert not luhn(number)


@pytest.mark.parametrize(("text", "expected"), [
    ("4111111111111111", "411111******1111"),
    ("4111 1111 1111 1111", "411111******1111"),
    ("4111-1111-1111-1111", "411111******1111"),
    ("pan:4111 1111-1111 1111.", "pan:411111******1111."),
    ("4222222222222", "422222***2222"),                            # 13 digits
    ("6304000000000000000", "630400*********0000"),                # 19 digits
    ("card4111111111111111x", "card411111******1111x"),            # glued to letters still counts
    ("4111 1111 1111 1111 2025", "411111******1111 2025"),         # a card then a year, in one run
    ("ids 4111111111111112 and 1234567812345678", "ids 4111111111111112 and 1234567812345678"),  # fail Luhn
    ("41111111111111111111", "41111111111111111111"),              # 20 digits in one group: not a card
    ("4111  1111 1111 1111", "4111  1111 1111 1111"),             # double space breaks the run
    ("order 12", "order 12"),
])
def test_mask_cards(text, expected):
    assert mask_cards(text)[0] == expected


def test_masked_values_are_reported_and_never_the_full_number():
    text, found = mask_cards("a 5500 0000 0000 0004 b 4111111111111111")
    assert found == ["550000******0004", "411111******1111"]
    assert "5500000000000004" not in text.replace(" ", "") and "4111111111111111" not in text


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
     "token [REDACTED:jwt] end", "jwt"),
    ("Authorization: Bearer abcdef0123456789", "Authorization: Bearer [REDACTED:bearer_token]", "bearer_token"),
    ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic [REDACTED:basic_auth]", "basic_auth"),
    ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws_access_key] used", "aws_access_key"),
    ("postgres://app:s3cret@db:5432/x", "postgres://app:[REDACTED:url_password]@db:5432/x", "url_password"),
    ("password=hunter2 user=bob", "password=[REDACTED:password] user=bob", "password"),
    ('{"password": "hun\\"ter2", "user": "bob"}', '{"password": "[REDACTED:password]", "user": "bob"}', "password"),
    ("client_secret: abc123 next", "client_secret: [REDACTED:secret] next", "secret"),
    ("X-Api-Key: k-123", "X-Api-Key: [REDACTED:api_key]", "api_key"),
    ("api_key='abc def'", "api_key='[REDACTED:api_key]'", "api_key"),
    ('payload {\\"password\\": \\"x\\"}', 'payload {\\"password\\": \\"[REDACTED:password]\\"}', "password"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [REDACTED:api_key]", "api_key"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh [REDACTED:token]", "token"),
])
def test_secrets(text, expected, kind):
    finding = __import__("streams.ingest.redact", fromlist=["Finding"]).Finding()
    assert R.text(text, finding) == expected
    assert finding.counts == {kind: 1}


def test_pem_private_key_blocks_complete_and_truncated():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAKCAQ==\n-----END RSA PRIVATE KEY-----"
    assert R.text(f"key:\n{pem}\nafter") == "key:\n[REDACTED:private_key]\nafter"
    assert R.text("x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk") == "x [REDACTED:private_key]"
    assert R.text("-----BEGIN PUBLIC KEY-----\nMIIB") == "-----BEGIN PUBLIC KEY-----\nMIIB"


def test_words_that_are_not_secrets_stay():
    for text in ("max_tokens=100", "tokens_used: 5", "/v1/tokens", "password reset email sent", "PWD=/home/x",
                 "basic authentication enabled", "bearer of bad news"):
        assert R.text(text) == text


def test_redaction_is_idempotent():
    once = R.text("password=a Bearer abcdefghijk 4111111111111111")
    assert R.text(once) == once


def test_event_fields_keys_and_secret_named_fields():
    ev = {"event_id": "e", "kind": "log", "message": "pan 4111111111111111", "host": "h",
          "trace_id": "4111111111111111aaaaaaaaaaaaaaaa",
          "attributes": {"password": "hunter2", "session_token": "t", "4111111111111111": "k", "ok": "fine",
                         "Authorization": "Basic abc"}}
    finding = R.event(ev)
    assert ev["message"] == "pan 411111******1111"
    assert ev["attributes"] == {"password": "[REDACTED:password]", "session_token": "[REDACTED:token]",
                                "411111******1111": "k", "ok": "fine", "Authorization": "[REDACTED:token]"}
    assert ev["trace_id"] == "4111111111111111aaaaaaaaaaaaaaaa"  # a W3C id is an identifier, not a card
    assert finding.counts == {"card_number": 2, "password": 1, "token": 2}
    assert [f for f, _ in finding.cards] == ["message", "attributes.key"]


def test_configured_patterns_and_hashing():
    r = Redactor([("iban", r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b", "")], ["user.email", "actor"], b"k1")
    ev = {"event_id": "e", "kind": "security", "actor": "bob", "message": "to DE89370400440532013000",
          "attributes": {"user.email": "zoe@example.com"}}
    r.hash_event(ev)
    finding = r.event(ev)
    assert ev["message"] == "to [REDACTED:iban]" and finding.counts == {"iban": 1}
    assert ev["actor"].startswith("hmac:") and ev["actor"] != "bob"
    assert ev["attributes"]["user.email"] == r.hash_value("zoe@example.com")
    assert Redactor(hash_fields=["actor"], hash_key=b"k2").hash_value("bob") != ev["actor"]


@pytest.mark.parametrize("use_arrow", [True, False])
def test_precheck_flags_exactly_what_needs_redaction(use_arrow):
    check = PreCheck([("iban", r"DE\d{20}", "")], use_arrow=use_arrow)
    dirty = [b'{"msg":"4111 1111 1111 1111"}', b"password=x", b'{"k":"\\u0034111111111111111"}',
             b'{"v":4.111111111111111e15}', b'{"key":"password","value":{"stringValue":"x"}}',
             b"CEF:0|a|b|1|s|n|1|cs1Label=secret cs1=x", b"Bearer\\tabcdefghijkl", b"DE89370400440532013000"]
    clean = [b'{"msg":"charge ok","ts":"2025-12-31T23:59:59Z"}', b"level=info msg=ok", b"/v1/tokens 200"] * 4
    assert len(dirty + clean) >= 12  # enough records for the Arrow path to be taken
    maybe, secret = check.flagged(dirty + clean)
    assert maybe == list(range(len(dirty)))
    assert secret == [1, 2, 3, 4, 5, 6, 7]  # card-only records skip the secret patterns


def test_precheck_backends_agree():
    values = [orjson.dumps({"m": f"x{i}", "n": 10 ** (i % 20)}) for i in range(300)] + [b"token=1", b""]
    assert PreCheck(use_arrow=True).flagged(values) == PreCheck(use_arrow=False).flagged(values)


def test_networks_only_keeps_luhn_valid_numbers_no_network_issues():
    tid, epoch_ns = "140048743753477", "1767225595100000000"
    assert luhn(tid) and luhn(epoch_ns)
    strict = Redactor(card_networks_only=True)
    assert strict.text(f"tid {tid} ts {epoch_ns} pan 4111111111111111") == \
        f"tid {tid} ts {epoch_ns} pan 411111******1111"
    assert R.text(f"tid {tid}") == "tid 140048*****3477"
