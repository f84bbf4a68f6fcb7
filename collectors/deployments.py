"""Deployment announcements: what a delivery pipeline sends when it starts rolling a
version out (`sluice deploy`; the demo's canary incident)."""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Producer

from collectors.ids import Uuid7Generator
from schemas.events import DeploymentEvent
from sinks.kafka import KafkaConfig


def new_deployment(service: str, version: str, ts: float | None = None, **fields) -> DeploymentEvent:
    """A validated deployment event with a fresh UUIDv7 (pydantic errors name the bad field)."""
    ts = time.time() if ts is None else ts
    return DeploymentEvent(event_id=Uuid7Generator().next(ts), ts=ts, service=service, version=version, **fields)


def announce(kafka: KafkaConfig, deployment: DeploymentEvent, timeout: float = 30.0) -> None:
    """Publish onto the deployments topic (key: the service, so one service's
    deployments stay in order) and wait for the broker's acknowledgement."""
    errors: list[str] = []
    producer = Producer(kafka.producer_conf(on_delivery=lambda err, _msg: err and errors.append(str(err))))
    producer.produce(kafka.topics.deployments, orjson.dumps(deployment.model_dump()), deployment.service.encode())
    left = producer.flush(timeout)
    if left or errors:
        reason = errors[0] if errors else f"no acknowledgement within {timeout:g}s"
        raise RuntimeError(f"Kafka at {kafka.bootstrap_servers} did not take the deployment: {reason}")
