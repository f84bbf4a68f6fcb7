"""A whole embedded pipeline (sluice.stack.Stack: Tansu broker, sink with chDB and its
SQL endpoint, ingest workers) for the phases that go through ClickHouse, plus a
thread that counts landed rows (sluice.summary.landed) and keeps the children alive."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from benchmarks.phases.common import RssMonitor, stack_settings, wait_until
from collectors.publisher import Publisher
from collectors.synthetic import SyntheticSource
from sinks.kafka import kafka_cluster_id
from sluice import summary
from sluice.sqlclient import SqlClient
from sluice.stack import Stack


class LiveStack:
    def __init__(self, work_dir: Path, phase: str, report, monitor: RssMonitor,
                 stages: tuple[str, ...] | None = None, **overrides):
        self.settings = stack_settings(work_dir, phase, **overrides)
        self.stack = Stack(self.settings) if stages is None else Stack(self.settings, stages=stages)
        self.report = report
        self.monitor = monitor
        self.sql: SqlClient | None = None
        self.cluster = ""
        self.alone = False
        self.startup_s = 0.0

    @property
    def kafka(self):
        return self.settings.kafka

    def start(self) -> LiveStack:
        started = time.monotonic()
        self.stack.start()
        self.monitor.watch_stack(self.stack)
        self.sql = SqlClient(self.settings, self.stack.sql_url)
        self.cluster = kafka_cluster_id(self.settings.kafka)
        self.alone = summary.alone(self.sql, self.cluster)
        self.startup_s = time.monotonic() - started
        self.report(f"  stack up in {self.startup_s:.1f}s: broker {self.kafka.bootstrap_servers}, "
                    f"SQL {self.stack.sql_url}, stages {', '.join(c.name for c in self.stack.children)}; "
                    f"logs in {self.stack.log_dir}")
        return self

    def landed(self) -> int:
        return summary.landed(self.sql, self.cluster, self.alone)

    def warm_up(self, pub: Publisher, source: SyntheticSource, n: int = 2000, timeout: float = 120.0) -> int:
        """Publish a few records and wait until they landed: both consumer groups have
        joined, the tables exist and the first inserts are done before any timing."""
        pub.publish(source.batch(n))
        pub.flush(30)
        wait_until(lambda: self.landed() >= pub.stats.acked, timeout, 0.2, "warm-up records landing")
        return self.landed()

    def pids(self) -> dict[str, int]:
        out = {c.name: c.proc.pid for c in self.stack.children if c.proc is not None}
        if self.stack.broker is not None and self.stack.broker.proc is not None:
            out["broker"] = self.stack.broker.proc.pid
        return out

    def close(self) -> None:
        self.stack.close()
        if self.sql is not None:
            self.sql.close()
        for name in ("broker", "sink", "ingest-", "detect"):
            self.monitor.unwatch(name)


class LandedPoller:
    """Counts landed rows every `interval` seconds in a thread (and restarts any dead
    stage process); keeps (t since start, rows) samples."""

    def __init__(self, live: LiveStack, interval: float = 0.5):
        self.live = live
        self.interval = interval
        self.latest = 0
        self.latest_at = 0.0
        self.samples: list[tuple[float, int]] = []
        self.errors = 0
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="landed-poller", daemon=True)

    def start(self, t0: float | None = None) -> LandedPoller:
        self.t0 = t0 or time.monotonic()
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.live.stack.supervise()
                n = self.live.landed()
                now = time.monotonic()
                self.latest, self.latest_at = n, now
                self.samples.append((round(now - self.t0, 3), n))
            except Exception:  # a slow or refused query must not end the phase
                self.errors += 1
            self._stop.wait(self.interval)

    def wait_for(self, count: int, timeout: float) -> float | None:
        """Monotonic time of the first sample with at least `count` rows, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.latest >= count:
                return self.latest_at
            time.sleep(0.05)
        return None

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
