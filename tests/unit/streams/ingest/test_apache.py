from __future__ import annotations

import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import apache, sniff
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("apache")


def test_combined_with_escaped_quotes(ctx):
    fields, attrs = apache.parse_access(
        '::1 - "bob smith" [31/Dec/2025:23:59:59 -0500] "GET /a?q=\\"x\\" HTTP/1.1" 304 - "-" "ua \\"q\\""', ctx)
    assert attrs["source.address"] == "::1" and attrs["user.name"] == "bob smith"
    assert attrs["url.original"] == '/a?q="x"' and attrs["user_agent.original"] == 'ua "q"'
    assert "http.response.body.bytes" not in attrs and "http.request.referrer" not in attrs
    assert fields["ts"] == 1767243599.0 and fields["level"] == "info"


def test_error_log_2_2_client_without_port(ctx):
    _, attrs = apache.parse_apache_error("[Sun Dec 04 04:47:44 2005] [notice] [client 10.0.0.1] done", ctx)
    assert attrs["source.address"] == "10.0.0.1" and "source.port" not in attrs


@pytest.mark.parametrize("line", ["[Sun Dec 04 04:47:44 2005] missing level", "2025/12/31 [error] x"])
def test_not_error_logs(ctx, line):
    with pytest.raises(DecodeError):
        apache.decode_error_log(line.encode(), ctx)


def test_detection():
    assert sniff(b'1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 1', "logs") is apache.decode_access
    assert sniff(b"[Wed Dec 31 23:59:59 2025] [error] x", "logs") is apache.decode_error_log
    assert sniff(b"2025/12/31 23:59:59 [warn] 1#0: x", "logs") is apache.decode_error_log
