from __future__ import annotations

import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import prometheus, sniff
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("prometheus")


def test_corpus_skips_non_finite_samples_and_counts_them(ingest):
    from tests.unit.streams.ingest.corpus import CORPUS
    out = ingest((CORPUS / "prometheus/node.metrics.prom").read_bytes(), stream="metrics")
    assert out.skipped == {"non_finite_value": 2}
    assert len(out.events) == 13 and not out.dropped


def test_labels_with_escapes_commas_and_braces():
    name, labels, value, ts = prometheus.sample_line(
        r'm{a="x,y",b="q\"}",c="back\\slash",d="nl\n"} 1.5e3 1700000000000 # {trace_id="t"} 1', 1)
    assert name == "m" and value == "1.5e3" and ts == "1700000000000"
    assert labels == {"a": "x,y", "b": 'q"}', "c": "back\\slash", "d": "nl\n"}


def test_histogram_family_types(ctx):
    text = b"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 3\nh_count 2\nother 1\n"
    decoded = prometheus.decode(text, ctx)
    assert [(d.fields["name"], d.fields["type"]) for d in decoded] == [
        ("h_bucket", "histogram"), ("h_sum", "histogram"), ("h_count", "histogram"), ("other", "gauge")]


def test_openmetrics_seconds_timestamp(ctx):
    (d,) = prometheus.decode(b"up 1 1767225598.5\n# EOF\n", ctx)
    assert d.fields["ts"] == 1767225598.5


@pytest.mark.parametrize("text", [b"m{a=\"b\" 1", b"m{a=b} 1", b"m\n", b"m 1 notatime"])
def test_malformed(ctx, text):
    with pytest.raises(DecodeError):
        prometheus.decode(text, ctx)


def test_detection_is_stream_aware():
    assert sniff(b"# HELP x y\n# TYPE x gauge\nx 1\n", "logs") is prometheus.decode
    assert sniff(b"http_requests_total 5", "metrics") is prometheus.decode
    assert sniff(b"hello 5", "logs") is not prometheus.decode
