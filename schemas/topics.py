"""Kafka topic names, derived from one prefix so tests can isolate themselves."""

from __future__ import annotations

from dataclasses import dataclass

STREAMS = ("logs", "metrics", "security")


@dataclass(frozen=True)
class Topics:
    prefix: str = "sluice"

    def raw(self, stream: str) -> str:
        return f"{self.prefix}.raw.{stream}"

    def entry(self, stream: str) -> str:
        """The topic records of `stream` enter the pipeline on: a raw topic for the
        streams ingest decodes, the deployments topic for deployment announcements
        (validated by their producer); anything else is read as logs."""
        if stream == "deployments":
            return self.deployments
        return self.raw(stream if stream in STREAMS else "logs")

    def normalized(self, stream: str) -> str:
        return f"{self.prefix}.{stream}"

    @property
    def raw_all(self) -> list[str]:
        return [self.raw(s) for s in STREAMS]

    @property
    def normalized_all(self) -> list[str]:
        return [self.normalized(s) for s in STREAMS]

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def rollups(self) -> str:
        return f"{self.prefix}.rollups"

    @property
    def signals(self) -> str:
        return f"{self.prefix}.signals"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def dlq_replays(self) -> str:
        """What `sluice dlq replay` re-fed (stored into `dlq_replays`)."""
        return f"{self.prefix}.dlq-replays"

    @property
    def detect(self) -> str:
        """Events and rollup partials ingest pre-filtered for the rules (the detect stage's input)."""
        return f"{self.prefix}.detect"

    @property
    def detect_inputs(self) -> list[str]:
        """What the detect stage reads; single-partition topics (state co-partitioning)."""
        return [self.detect, self.signals, self.deployments]

    @property
    def deployments(self) -> str:
        return f"{self.prefix}.deployments"

    @property
    def alert_history(self) -> str:
        """Every alert state change (streams/alerting), stored into the `alerts` table."""
        return f"{self.prefix}.alert-history"

    @property
    def silences(self) -> str:
        """Silences, compacted: key = silence id, value = the silence JSON (None = deleted)."""
        return f"{self.prefix}.silences"

    def all(self) -> list[str]:
        return [*self.raw_all, *self.normalized_all, self.dlq, self.rollups, self.signals, self.alerts,
                self.alert_history, self.silences, self.detect, self.deployments, self.dlq_replays]

    def stream_of(self, topic: str) -> str:
        """The stream name (logs/metrics/security) a raw or normalized topic carries."""
        return topic.rsplit(".", 1)[-1]
