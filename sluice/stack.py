"""Starts and supervises the stage processes (and the embedded broker when no Kafka
is configured). Used by `sluice run`, `sluice demo` and `sluice process`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from sinks.kafka import ensure_sluice_topics
from sluice.embedded import EmbeddedBroker, dies_with_parent, free_port, wait_for_port, write_stack
from sluice.settings import Settings, StackInfo

log = logging.getLogger(__name__)
RESTART_BACKOFF_S = 1.0


class StageProcess:
    def __init__(self, name: str, args: list[str], env: dict, log_path: Path):
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen([sys.executable, "-m", "sluice", *self.args], env=self.env,
                                         stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=dies_with_parent())

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def stop_together(children: list[StageProcess], timeout: float = 30.0) -> None:
    """SIGTERM to all, then wait for each (killing one that overstays): the workers of a
    stage stop at once, rather than each leaving the group in turn and rebalancing the
    ones still running."""
    running = [c for c in children if c.alive]
    for c in running:
        c.proc.terminate()
    deadline = time.monotonic() + timeout
    for c in running:
        try:
            c.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", c.name, timeout)
            c.proc.kill()
            c.proc.wait()


class Stack:
    """Broker (if embedded) + sink + ingest workers, as child processes."""

    def __init__(self, settings: Settings, stages: tuple[str, ...] = ("sink", "ingest", "detect")):
        self.settings = settings
        self.stages = stages
        self.broker: EmbeddedBroker | None = None
        self.children: list[StageProcess] = []
        self.sql_url: str | None = None
        self.log_dir = settings.data_dir / "logs"

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.kafka.bootstrap_servers or ""

    def start(self) -> Stack:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if not s.kafka.bootstrap_servers:
            self.broker = EmbeddedBroker(self.log_dir).start()
            s.kafka.bootstrap_servers = self.broker.bootstrap_servers
            log.info("embedded broker on %s", self.broker.bootstrap_servers)
        ensure_sluice_topics(s.kafka)
        s.data_dir = s.data_dir.resolve()
        s.clickhouse.data_dir = s.clickhouse.data_dir.resolve()
        config = s.write_for_children(s.data_dir / "run" / "settings.yaml")
        # The file carries every resolved setting; the environment must not override it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        env["SLUICE_CONFIG"] = str(config)
        if "sink" in self.stages:
            sql_port = free_port()
            sink = StageProcess("sink", ["run", "--stage", "sink", "--sql-port", str(sql_port)], env,
                                self.log_dir / "sink.log")
            sink.start()
            self.children.append(sink)
            if s.clickhouse.embedded:
                self.sql_url = f"http://127.0.0.1:{sql_port}"
                wait_for_port(sql_port, 120, sink.proc, "sink SQL endpoint")
        if "ingest" in self.stages:
            for i in range(self.ingest_workers):
                w = StageProcess(f"ingest-{i}", ["run", "--stage", "ingest", "--worker-index", str(i)], env,
                                 self.log_dir / f"ingest-{i}.log")
                w.start()
                self.children.append(w)
        if "detect" in self.stages:
            d = StageProcess("detect", ["run", "--stage", "detect"], env, self.log_dir / "detect.log")
            d.start()
            self.children.append(d)
        write_stack(s.stack_file, StackInfo(
            bootstrap_servers=s.kafka.bootstrap_servers, sql_url=self.sql_url,
            topic_prefix=s.kafka.topic_prefix, database=s.clickhouse.database, pid=os.getpid()))
        return self

    @property
    def ingest_workers(self) -> int:
        """`ingest.workers`, but no more than the raw topics have partitions: a worker
        beyond that would own nothing and only cost a rebalance."""
        return max(1, min(self.settings.ingest.workers, self.settings.kafka.partitions))

    def supervise(self) -> None:
        """Restart any child that died (a crash must not stop the pipeline)."""
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                child.restarts += 1
                log.error("%s exited with status %s; restarting (restart #%d, see %s)",
                          child.name, child.proc.returncode, child.restarts, child.log_path)
                time.sleep(RESTART_BACKOFF_S)
                child.start()

    def child(self, name: str) -> StageProcess:
        return next(c for c in self.children if c.name == name)

    def stop_stage(self, prefix: str) -> None:
        stop_together([c for c in self.children if c.name.startswith(prefix)])

    def close(self) -> None:
        # The sink last, so that it can store what ingest committed while stopping.
        stop_together([c for c in self.children if c.name != "sink"])
        stop_together([c for c in self.children if c.name == "sink"])
        self.children = []
        if self.broker is not None:
            self.broker.close()
            self.broker = None
        try:
            self.settings.stack_file.unlink()
        except FileNotFoundError:
            pass
