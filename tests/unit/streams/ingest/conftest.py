from __future__ import annotations

import pytest

from schemas.topics import Topics
from streams.ingest.decoders.base import DecodeContext
from streams.ingest.pipeline import IngestConfig, Ingestor
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest import corpus


@pytest.fixture
def ctx() -> DecodeContext:
    return DecodeContext(corpus.OBSERVED, TimeParser())


@pytest.fixture
def ingest():
    """process(value, stream="logs", cfg=None) -> IngestOutput of one record, events kept."""
    def run(value: bytes, stream: str = "logs", cfg: IngestConfig | None = None, offset: int = 0):
        topics = Topics()
        return Ingestor(topics, cfg).process([(value, topics.raw(stream), 0, offset)], corpus.OBSERVED,
                                             keep_events=True)
    return run


def check_corpus(fmt: str) -> None:
    """Every sample of tests/corpus/<fmt>/ against its expected outcomes, field by field."""
    samples = corpus.samples(fmt)
    assert samples, f"no samples in tests/corpus/{fmt}"
    problems = []
    for path in samples:
        expected = corpus.load_expected(path)
        actual = corpus.run(path)
        assert len(expected) == len(actual), f"{path.name}: {len(actual)} records, {len(expected)} expected"
        for exp, act in zip(expected, actual, strict=True):
            problems.extend(f"{path.name} record {exp['record']}: {p}" for p in corpus.differences(exp, act))
    assert not problems, "\n".join(problems)
