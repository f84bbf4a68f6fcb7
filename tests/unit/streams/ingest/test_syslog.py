from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import sniff, syslog
from streams.ingest.decoders.base import DecodeContext
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("syslog")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("line", "observed", "expected"), [
    ("Dec 31 23:59:59", "2026-01-01T00:00:30", "2025-12-31T23:59:59"),   # read just after new year
    ("Jan  1 00:00:01", "2025-12-31T23:59:50", "2026-01-01T00:00:01"),   # sender clock a little ahead
    ("Jun 15 12:00:00", "2026-01-01T00:00:30", "2025-06-15T12:00:00"),
    ("Jan  2 00:00:00", "2026-01-01T00:00:30", "2026-01-02T00:00:00"),   # a day of skew is tolerated
    ("Jan  3 00:00:00", "2026-01-01T00:00:30", "2025-01-03T00:00:00"),   # beyond that: last year
    ("Feb 29 00:00:00", "2026-03-01T00:00:00", "2024-02-29T00:00:00"),   # the latest leap year
])
def test_rfc3164_year_inference(line, observed, expected):
    times = TimeParser()
    month, day, hms = line.split()
    assert times.syslog_3164(month, int(day), hms, _ts(observed)) == _ts(expected)


def test_timezone_of_zoneless_times():
    ctx = DecodeContext(_ts("2026-01-01T12:00:00"), TimeParser("Europe/Paris"))
    fields, _ = syslog.parse("<13>Jan  1 10:00:00 h app: x", ctx)
    assert fields["ts"] == _ts("2026-01-01T09:00:00")


def test_rfc5424_structured_data_and_nil_values(ctx):
    fields, attrs = syslog.parse(
        '<165>1 2025-12-31T23:59:58Z host app - - [id@1 a="1" b="x\\"y"][empty@2] msg', ctx)
    assert fields["message"] == "msg" and fields["host"] == "host" and fields["service"] == "app"
    assert attrs["syslog.sd.id@1.a"] == "1" and attrs["syslog.sd.id@1.b"] == 'x"y'
    assert attrs["syslog.sd.empty@2"] == "" and "process.pid" not in attrs


def test_tag_without_host_and_ipv6_host(ctx):
    fields, attrs = syslog.parse("<13>Dec 31 23:59:59 sshd[42]: hello", ctx)
    assert (fields.get("host"), fields["service"], attrs["process.pid"]) == (None, "sshd", "42")
    fields, _ = syslog.parse("<13>Dec 31 23:59:59 fe80::1 app: hello", ctx)
    assert (fields["host"], fields["service"], fields["message"]) == ("fe80::1", "app", "hello")


@pytest.mark.parametrize("line", ["<192>Dec 31 23:59:59 h a: x", "<13>Foo 31 23:59:59 h a: x", "<13>1 bad"])
def test_bad_headers(ctx, line):
    with pytest.raises((DecodeError, ValueError)):
        syslog.decode_3164(line.encode(), ctx) if "1 bad" not in line else syslog.decode_5424(line.encode(), ctx)


def test_detection():
    assert sniff(b"<13>Dec 31 23:59:59 h a: x", "logs") is syslog.decode
    assert sniff(b"Dec 31 23:59:59 h a: x", "logs") is syslog.decode
    assert sniff(b"2025-12-31T23:59:59+00:00 h a: x", "logs") is syslog.decode


def test_severity_and_facility_from_pri(ingest):
    ev = ingest(b"<11>Dec 31 23:59:59 h app: x").events[0]   # user.err
    assert (ev["severity_text"], ev["attributes"]["syslog.facility"]) == ("ERROR", "user")
