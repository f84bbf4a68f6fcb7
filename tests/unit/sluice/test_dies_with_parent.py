"""Children of a killed `sluice run` (the embedded broker, the stages) do not outlive it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from pathlib import Path
    from sluice.embedded import EmbeddedBroker, dies_with_parent
    broker = EmbeddedBroker(Path(sys.argv[1])).start()
    stage = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=dies_with_parent())
    print(broker.proc.pid, stage.pid, flush=True)
    time.sleep(60)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, not yet reaped
    except FileNotFoundError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_broker_and_stage_processes_stop_when_their_parent_is_killed(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    children: list[int] = []
    try:
        children = [int(p) for p in parent.stdout.readline().split()]
        assert len(children) == 2 and all(_alive(p) for p in children)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in children), "a child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
