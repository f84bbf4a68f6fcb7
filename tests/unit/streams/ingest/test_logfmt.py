from __future__ import annotations

import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import logfmt, sniff
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("logfmt")


@pytest.mark.parametrize(("line", "fields"), [
    ('a=1 b="two words" c', {"a": "1", "b": "two words", "c": "true"}),
    (r'msg="say \"hi\"\n" path=C:\dir', {"msg": 'say "hi"\n', "path": "C:\\dir"}),
    ("k= empty=", {"k": "", "empty": ""}),
    ('  lead=1   trail=2  ', {"lead": "1", "trail": "2"}),
    ('unicode="héllo ✓" tab="a\tb"', {"unicode": "héllo ✓", "tab": "a\tb"}),
    ('dotted.key=v at@sign=w', {"dotted.key": "v", "at@sign": "w"}),
])
def test_parse(line, fields):
    assert logfmt.parse(line) == fields


def test_unknown_escapes_keep_their_backslash():
    assert logfmt.parse(r'm="a\qb"') == {"m": r"a\qb"}


def test_not_logfmt(ctx):
    with pytest.raises(DecodeError) as e:
        logfmt.decode(b"no pairs at all", ctx)
    assert e.value.reason == "decode_error"


def test_detection():
    assert sniff(b"ts=2025-12-31T00:00:00Z level=info msg=x", "logs") is logfmt.decode
    assert sniff(b"hello world", "logs") is not logfmt.decode


def test_forced_logfmt_on_a_topic(ingest):
    from streams.ingest.pipeline import IngestConfig
    cfg = IngestConfig(formats={"sluice.raw.logs": "logfmt"})
    assert ingest(b"level=warn msg=forced", cfg=cfg).events[0]["severity_text"] == "WARN"
    out = ingest(b"<13>Dec 31 23:59:59 h app: not logfmt", cfg=cfg)
    assert out.dropped == {"decode_error": 1}
