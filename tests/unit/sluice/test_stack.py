"""The stack's process handling that needs no broker: how many ingest workers it
starts, and stopping a stage's processes together."""

from __future__ import annotations

import signal
import subprocess
import sys

from sluice.settings import load_settings
from sluice.stack import Stack, StageProcess, stop_together


def test_no_more_ingest_workers_than_partitions(tmp_path):
    def workers(n: int, partitions: int) -> int:
        settings = load_settings(data_dir=tmp_path, **{"ingest.workers": n, "kafka.partitions": partitions})
        return Stack(settings).ingest_workers

    assert (workers(2, 4), workers(2, 1), workers(8, 4), workers(1, 4)) == (2, 1, 4, 1)


def _started(tmp_path, name: str, on_sigterm: str) -> StageProcess:
    """A child that says it is up once its SIGTERM handling is in place."""
    child = StageProcess(name, [], {}, tmp_path / f"{name}.log")
    code = f"import signal, time; {on_sigterm}; print('up', flush=True); time.sleep(60)"
    child.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.proc.stdout.readline() == b"up\n"
    return child


def test_stop_together_terminates_all_and_kills_one_that_ignores_sigterm(tmp_path):
    polite = [_started(tmp_path, f"w{i}", "pass") for i in range(2)]
    stubborn = _started(tmp_path, "stubborn", "signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    stop_together([*polite, stubborn], timeout=2.0)
    assert [c.proc.returncode for c in polite] == [-signal.SIGTERM, -signal.SIGTERM]
    assert stubborn.proc.returncode == -signal.SIGKILL
    assert not any(c.alive for c in [*polite, stubborn])
    for c in [*polite, stubborn]:
        c.proc.stdout.close()
