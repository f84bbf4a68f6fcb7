"""bench_ingest on a small corpus: the figures it reports and how they relate."""

from __future__ import annotations

from benchmarks import bench_ingest


def test_reports_best_passes_and_the_ratio_of_every_round():
    r = bench_ingest.run(n=2_000, repeat=2)
    assert len(r["ingest_vs_floor_by_round"]) == 2
    assert all(ratio > 0 for ratio in r["ingest_vs_floor_by_round"])
    # best against best: the floor's best pass over ingest's best pass
    assert abs(r["ingest_vs_floor"] - r["ingest_events_per_s"] / r["floor_events_per_s"]) < 0.01
    assert r["json_logs_events_per_s"] > 0


def test_the_corpus_mixes_every_format_and_is_the_same_each_time():
    records = bench_ingest.corpus(2_000)
    assert records == bench_ingest.corpus(2_000)
    topics = {topic for _, topic, _, _ in records}
    assert topics == {bench_ingest.TOPICS.raw(s) for s in ("logs", "metrics", "security")}
    assert any(value[:1] == b"<" for value, *_ in records)  # syslog and auth lines
    assert any(value[:1] == b"{" for value, *_ in records)
