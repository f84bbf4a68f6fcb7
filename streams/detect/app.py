"""The detect stage: a faust-streaming app over the reduced streams.

    sluice.detect (events and rollup partials ingest pre-filtered  ┐
                   for the rules, packed in arrays; timer ticks)   ├─ evaluate: rule state and alert
    sluice.signals, sluice.deployments                             ┘  state in faust Tables
                                            ─► alert topics, {prefix}.alert-history

Faust writes a table's changelog to the partition of the event being processed, so
state must be co-partitioned with the streams that update it: these input topics have
one partition each (see sinks.kafka.ensure_sluice_topics), which keeps every rule
group's state in one place without re-producing every item to a repartition topic;
the volume here is already reduced (rollups, signals, pre-filtered events). Timers
cannot write tables (no current event), so a timer sends a tick message through the
detect topic and the evaluating agent does the timed work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import faust
import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas import envelope, source
from sinks.kafka import KafkaConfig
from streams.aggregate import merge_partials
from streams.alerting import SilenceStore, encode_history
from streams.alerting.delivery import RecentSends
from streams.detect.engine import Engine
from streams.detect.evaluators.base import source_of
from streams.detect.loader import default_rules_path
from streams.detect.reload import RuleSet
from streams.detect.writeback import WriteBack
from streams.runtime import gc_paused

log = logging.getLogger(__name__)
SOURCE_MARK_PREFIX = "_sources/"  # rule ids start with [a-z0-9]: no rule's state key looks like this


class DetectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules_path: Path | None = Field(default=None, description="rule files (a directory or one file); unset = ./rules, else the bundled library")
    tick_s: float = Field(default=1.0, gt=0, description="how often timed work runs (absence, resolve, group flush)")
    merge_grace_s: float = Field(default=2.0, ge=0, description="wait for partials of one window from other ingest workers")
    reload_check_s: float = Field(default=5.0, gt=0, description="how often rule files are checked for changes")
    alerting_path: Path | None = Field(default=None, description="alert routing/grouping/inhibition config; unset = config/alerting.yaml or built-in defaults")
    rollup_window_s: int = Field(default=60, gt=0, description="size of the rollup partials rules see: one size, so a rule's sums over its window count each event once; 60 = what the ClickHouse rollup tables keep, so backtests read the same")
    prefilter: bool = Field(default=True, description="ingest forwards only the events and rollups some rule accepts to the detect stage; off: all of them")

    @property
    def resolved_rules_path(self) -> Path:
        return self.rules_path if self.rules_path is not None else default_rules_path()


async def changelog_handed_over(app: faust.App) -> None:
    """Wait until the table writes of a record have left faust's producer buffer for the
    Kafka client. An offset commit flushes the client, but waits on that buffer only
    0.1 s per message (faust's ProducerBuffer.flush_atmost) and then commits anyway: a
    crash right after such a commit loses state whose input is already committed."""
    buffer = app.producer.buffer
    try:
        while buffer.size:
            await buffer.flush()
    except RuntimeError:  # the producer stopped (shutting down): no commit follows either
        log.debug("detect: producer stopped with %d changelog records unsent", buffer.size)


def build_app(kafka: KafkaConfig, cfg: DetectConfig, alerting=None, silences: SilenceStore | None = None,
              clock: Callable[[], float] = time.time, sent: RecentSends | None = None,
              datadir: Path | None = None) -> faust.App:
    """The faust app; `alerting` is a factory (states, groups) -> alert manager, or None
    to emit the rule engine's candidates unchanged; `silences` is kept current from the
    silences topic (the caller loads what the topic held before start-up); `clock` is
    platform time (streams.clock), which rules and alert timers run on; `sent` holds
    the notifications already on the alert topics (the caller loads the recent ones);
    `datadir` is faust's working directory (unset: `<app id>-data` in the current one)."""
    topics = kafka.topics
    if datadir is not None:
        datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        f"{kafka.topic_prefix}-detect", broker=f"kafka://{kafka.bootstrap_servers}", store="memory://",
        web_enabled=False, broker_session_timeout=kafka.session_timeout_ms / 1000, broker_heartbeat_interval=1,
        topic_partitions=1, consumer_auto_offset_reset="earliest", processing_guarantee="at_least_once",
        topic_allow_declare=True, stream_wait_empty=False,
        # A record's table writes leave together: without a linger each changelog write
        # becomes a produce request of its own, ~0.2 ms of the event loop apiece.
        producer_linger=0.005,
        **({"datadir": str(datadir / "{conf.name}")} if datadir is not None else {}))
    inputs = app.topic(*topics.detect_inputs, value_serializer="raw")
    ticks = app.topic(topics.detect, value_serializer="raw")
    rule_states = app.Table("rule-state", partitions=1)
    states = WriteBack(rule_states)  # one table write per changed key per input record
    # The highest raw source seen per raw partition (keys SOURCE_MARK_PREFIX + raw partition):
    # an item of a batch ingest wrote twice (a transaction the broker showed after an abort or
    # fence) is not evaluated twice. Kept in the rule-state table and flushed after the rule
    # state: one changelog partition, so a mark that survives a crash never runs ahead of
    # the state it vouches for.
    seen = WriteBack(rule_states)
    marks = source.Marks(seen)
    alert_states = app.Table("alert-state", partitions=1)
    alert_groups = app.Table("alert-groups", partitions=1)
    pending = app.Table("rollup-merge", partitions=1)
    ruleset = RuleSet(cfg.resolved_rules_path)
    runtime: dict = {}

    def engine() -> Engine:
        eng = runtime.get("engine")
        if eng is None or runtime.get("version") != ruleset.version:
            eng = runtime["engine"] = Engine(ruleset.rules, states=states)
            runtime["version"] = ruleset.version
        return eng

    def manager():
        if alerting is None:
            return None
        mgr = runtime.get("manager")
        if mgr is None:
            mgr = runtime["manager"] = alerting(alert_states, alert_groups)
        return mgr

    async def emit(candidates: list[dict], now: float) -> None:
        mgr = manager()
        if mgr is None:
            for c in candidates:
                await app.topic(topics.alerts).send(key=c["fingerprint"].encode(), value=orjson.dumps(c))
            return
        notes = []
        for c in candidates:
            notes.extend(mgr.on_candidate(c, now))
        await publish(mgr, notes)

    async def publish(mgr, notes) -> None:
        for n in notes:
            for topic in n.topics:
                if sent is not None and not sent.should_send(topic, n.id):
                    log.warning("detect: %s already on %s (sent before a restart), not sent again", n.id, topic)
                    continue
                await app.topic(topic).send(key=n.key, value=n.value, headers=n.headers)
                if sent is not None:
                    sent.record(topic, n.id)
        for row in mgr.drain_history():
            key, value = encode_history(row)
            await app.topic(topics.alert_history).send(key=key, value=value)

    if silences is not None:
        @app.agent(app.topic(topics.silences, key_serializer="raw", value_serializer="raw"))
        async def follow_silences(stream):
            async for event in stream.events():
                key = event.key.decode() if isinstance(event.key, bytes) else str(event.key)
                silences.apply(key, event.value)

    @app.agent(inputs)
    async def evaluate(stream):
        async for value in stream:
            # A record holds hundreds of items, freed by reference counting when it is done;
            # meanwhile the cyclic collector would walk them at every allocation threshold.
            with gc_paused():
                await evaluate_record(value)

    async def evaluate_record(value: bytes) -> None:
        try:
            items = envelope.unpack(value)
        except orjson.JSONDecodeError:
            log.warning("detect: skipping a record that is not JSON (%d bytes)", len(value))
            return
        now = clock()
        replays = 0
        try:
            for item in items:
                if type(item) is not dict:
                    log.warning("detect: skipping an item that is not a JSON object (%s)", type(item).__name__)
                elif "_src" in item and _replayed(marks, item.pop("_src")):
                    replays += 1
                elif "_tick" in item:
                    await on_tick(now)
                elif source_of(item) == "rollups":
                    hold(item)
                else:
                    candidates = engine().process(item, now)
                    if candidates:  # emit() of none would only drain an empty history
                        await emit(candidates, now)
        except BaseException:
            states.discard()  # the record is not done: a restarted agent must not inherit half of it
            seen.discard()
            raise
        states.flush()
        seen.flush()
        # every table the record wrote (rule, alert and merge state alike)
        await changelog_handed_over(app)
        if replays:
            log.warning("detect: skipped %d items ingest sent twice (a transaction the broker showed "
                        "after an abort or fence, then its replay)", replays)

    def hold(partial: dict) -> None:
        """Partials of one window may come from several ingest workers: merge them for
        merge_grace_s before the rules see the window."""
        key = f"{partial['family']}|{partial['key']}|{partial['window_start']}|{partial['window_s']}"
        held = pending.get(key)
        merged = partial if held is None else merge_partials([held["p"], partial])[0]
        # Wall time: the grace covers processing delays between workers, not platform time.
        pending[key] = {"p": merged, "since": held["since"] if held else time.time()}

    async def on_tick(now: float) -> None:
        wall = time.time()
        ready = [k for k, v in pending.items() if wall - v["since"] >= cfg.merge_grace_s]
        candidates = []
        eng = engine()
        for key in ready:
            partial = pending[key]["p"]
            del pending[key]
            candidates.extend(eng.process(partial, now))
        candidates.extend(eng.tick(now))
        await emit(candidates, now)
        mgr = manager()
        if mgr is not None:
            await publish(mgr, mgr.tick(now, set(eng.rules)))

    @app.timer(cfg.tick_s)
    async def ticker():
        await ticks.send(value=orjson.dumps({"_tick": clock()}))

    @app.timer(cfg.reload_check_s)
    async def reload_rules():
        ruleset.reload_if_changed()

    app.sluice_ruleset = ruleset  # for tests and the CLI
    return app


def _replayed(marks: source.Marks, src) -> bool:
    """src: an item's `_src`, [raw partition, offset, index]; anything else is evaluated."""
    if type(src) is not list or len(src) != 3:
        return False
    raw, offset, index = src
    if type(raw) is not str or type(offset) is not int or type(index) is not int:
        return False
    return marks.replayed(SOURCE_MARK_PREFIX + raw, offset, index)
