from __future__ import annotations

import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import cef
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("cef")


def test_header_escapes_and_extension_escapes(ctx):
    fields, attrs = cef.parse(
        r"CEF:0|Ven\|dor|Pro\\duct|1|sig|Na\|me|3|msg=a\=b c\\d\nnext cs1Label=Ticket Id cs1=T-1 custom=x y", ctx)
    assert attrs["cef.device_vendor"] == "Ven|dor" and attrs["cef.device_product"] == "Pro\\duct"
    assert attrs["cef.name"] == "Na|me" and fields["service"] == "Pro\\duct"
    assert fields["message"] == "a=b c\\d\nnext"
    assert attrs["Ticket Id"] == "T-1" and attrs["cef.custom"] == "x y"
    assert fields["level"] == "info"


@pytest.mark.parametrize(("severity", "level"), [("0", "info"), ("5", "warn"), ("8", "error"), ("10", "fatal"),
                                                 ("High", "error"), ("Very-High", "fatal")])
def test_severity(ctx, severity, level):
    fields, _ = cef.parse(f"CEF:0|v|p|1|s|n|{severity}|", ctx)
    assert fields["level"] == level


def test_standard_keys(ctx):
    fields, attrs = cef.parse("CEF:0|v|p|1|s|n|5|src=1.2.3.4 suser=a duser=b act=login outcome=/Failure "
                              "cat=/Authentication/Login spt=5 dvchost=h1", ctx)
    assert (fields["source_ip"], fields["actor"], fields["target"], fields["action"]) == ("1.2.3.4", "a", "b", "login")
    assert (fields["outcome"], fields["category"], fields["host"]) == ("failure", "authentication", "h1")
    assert attrs["source.port"] == "5"


@pytest.mark.parametrize("line", ["CEF:0|a|b", "not cef", "CEF:0|v|p|1|s|n|5|garbage before key=v"])
def test_malformed(ctx, line):
    with pytest.raises(DecodeError):
        cef.decode(line.encode(), ctx)


def test_cef_on_the_logs_stream_is_a_security_event(ingest):
    out = ingest(b"CEF:0|v|p|1|s|n|5|src=1.2.3.4")
    assert out.events[0]["kind"] == "security" and list(out.by_topic) == ["sluice.security"]
