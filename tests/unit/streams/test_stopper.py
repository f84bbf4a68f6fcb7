"""streams.runtime.Stopper: bursts of SIGTERM/SIGINT (a supervisor's TERM plus one a
wrapper forwards, a double Ctrl-C) stop the loop. It once deadlocked the main thread on the
lock inside threading.Event.set when a second signal landed during the first handler
(here within ~100 bursts)."""
import os
import selectors
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from streams.runtime import Stopper

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 1000
CHILD = textwrap.dedent(f"""
    import time
    from streams.runtime import Stopper
    for _ in range({ROUNDS}):
        stopper = Stopper()
        print("ready", flush=True)
        while not stopper.stopped:
            time.sleep(0.0002)
""")


def test_stop_without_signals():
    stopper = Stopper(install_signals=False)
    assert not stopper.stopped
    stopper.stop()
    assert stopper.stopped


def test_bursts_of_signals_stop_every_loop():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    stopped = 0
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(child.stdout, selectors.EVENT_READ)
            while sel.select(10) and child.stdout.readline() == b"ready\n":
                for i in range(100):  # a burst the child's first handler is still inside
                    os.kill(child.pid, signal.SIGINT if i % 2 else signal.SIGTERM)
                stopped += 1
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert stopped == ROUNDS, f"the loop hung after {stopped} bursts"
