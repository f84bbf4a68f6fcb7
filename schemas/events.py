"""Canonical event models (schema v1).

The pydantic models are the contract: they document every field, export the JSON
Schema that collectors validate against, and check events in tests and at the
edges. The hot path moves the same shape as plain dicts (the wire form is the
model's JSON: `orjson.dumps(event_dict)`), because building a pydantic object per
event would cost more than the whole rest of ingest.

Times are UTC epoch seconds as floats (microsecond precision at today's epoch).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(description="UUIDv7 assigned at the edge; ingest derives a stable one from the source coordinates when absent")
    ts: float = Field(description="event time, UTC epoch seconds")
    observed_ts: float = Field(description="time the pipeline first saw the event, UTC epoch seconds")
    tenant: str = Field(default="default", description="tenant (business unit or customer) the event belongs to")
    service: str = Field(default="unknown", description="emitting service, e.g. payments, ledger, api-gateway")
    env: str = Field(default="", description="deployment environment, e.g. prod, staging")
    host: str = Field(default="", description="host or pod name")
    attributes: dict[str, str] = Field(default_factory=dict, description="everything else, flattened to dotted keys with string values")


class LogEvent(_Event):
    kind: Literal["log"] = "log"
    severity_number: int = Field(default=9, ge=0, le=24, description="OpenTelemetry severity number")
    severity_text: str = Field(default="INFO", description="OpenTelemetry severity text")
    message: str = Field(default="", description="the log message (redacted)")
    trace_id: str = Field(default="", description="W3C trace id, hex")
    span_id: str = Field(default="", description="W3C span id, hex")


class MetricSample(_Event):
    kind: Literal["metric"] = "metric"
    name: str = Field(description="metric name, e.g. http_request_duration_seconds")
    type: Literal["gauge", "counter", "histogram", "summary"] = Field(default="gauge", description="sample type")
    value: float = Field(description="sample value")
    unit: str = Field(default="", description="unit, e.g. s, ms, bytes, EUR")
    labels: dict[str, str] = Field(default_factory=dict, description="series labels")


class SecurityEvent(_Event):
    kind: Literal["security"] = "security"
    category: str = Field(default="other", description="authentication, authorization, privilege, audit, network, data_access, configuration, other")
    action: str = Field(default="", description="what was attempted, e.g. login, sudo, role_grant, mfa_disable")
    outcome: Literal["success", "failure", "unknown"] = Field(default="unknown", description="result of the action")
    actor: str = Field(default="", description="user or principal that acted")
    target: str = Field(default="", description="object acted upon: account, role, resource")
    source_ip: str = Field(default="", description="client address, IPv4 or IPv6 text")
    severity_number: int = Field(default=9, ge=0, le=24, description="OpenTelemetry severity number")
    severity_text: str = Field(default="INFO", description="OpenTelemetry severity text")
    message: str = Field(default="", description="original line or description (redacted)")


class DeploymentEvent(BaseModel):
    """A deployment announced by the delivery pipeline (`sluice deploy`, topic
    {prefix}.deployments): a canary rule compares the canary group's metrics with the
    baseline group's from then on; the `deployments` table keeps the history."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["deployment"] = "deployment"
    event_id: str = Field(description="UUIDv7 assigned by the announcer")
    ts: float = Field(description="when the deployment started, UTC epoch seconds")
    tenant: str = Field(default="default", description="tenant the service belongs to")
    service: str = Field(min_length=1, description="deployed service, as in its telemetry's `service`")
    env: str = Field(default="prod", description="deployment environment")
    version: str = Field(min_length=1, description="version being rolled out")
    canary_group: str = Field(default="canary", description="value of the metrics' `deployment_group` label on canary hosts")
    baseline_group: str = Field(default="baseline", description="value of that label on the hosts still on the old version")
    actor: str = Field(default="", description="who (or which pipeline) deployed")
    description: str = Field(default="", description="change summary, ticket or commit")


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(description="stable id derived from the source coordinates")
    ts: float = Field(description="first time the pipeline saw the record, UTC epoch seconds")
    reason: str = Field(description="reason code: decode_error, schema_violation, invalid_utf8, oversize, timestamp_out_of_range, ...")
    detail: str = Field(default="", description="human-readable detail of the reason")
    source_topic: str
    source_partition: int
    source_offset: int
    kind: str = Field(default="", description="the kind of stream the record came from (logs, metrics, security)")
    payload: str = Field(default="", description="the original bytes, redacted, decoded as UTF-8 with replacement")


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "log": LogEvent,
    "metric": MetricSample,
    "security": SecurityEvent,
}

# The raw stream a record arrives on decides the canonical kind it becomes.
KIND_OF_STREAM = {"logs": "log", "metrics": "metric", "security": "security"}



class Signal(BaseModel):
    """A single-event finding raised by ingest (sluice.signals), e.g. a card number
    found, and masked, in an event. One signal of a kind per source event."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["signal"] = "signal"
    signal: str = Field(description="what was found, e.g. card_number_detected")
    signal_id: str = Field(description="stable id derived from the source event id and the signal")
    ts: float = Field(description="event time of the source event, UTC epoch seconds")
    observed_ts: float = Field(description="time ingest saw the source record, UTC epoch seconds")
    tenant: str = Field(default="default", description="tenant of the source event")
    service: str = Field(default="unknown", description="service of the source event")
    env: str = Field(default="", description="environment of the source event")
    host: str = Field(default="", description="host of the source event")
    event_id: str = Field(description="id of the source event (as stored, redacted)")
    source_kind: str = Field(description="kind of the source event: log, metric, security")
    attributes: dict[str, str] = Field(default_factory=dict, description="card_number_detected: field, fields, masked (first 6 / last 4), count, network")
