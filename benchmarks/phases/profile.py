"""Optional (`--profile`): py-spy samples the stage processes (wall clock: idle and
waiting threads included, so time spent waiting on the broker shows) during the
ingest and e2e phases; the top frames by share of samples are reported per
process, and the raw collapsed stacks are kept beside the results. Needs ptrace rights."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def pyspy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


MAIN = "_run_module_as_main"


def top_functions(collapsed: str, n: int = 12, thread: str | None = MAIN) -> dict[str, list]:
    """From py-spy's raw (collapsed) output: `self`, the leaf frames by share of the
    samples, and `total`, the frames by share of samples they appear in (inclusive).
    Only the stacks whose root frame contains `thread` count (default: the main
    thread of a `python -m` process, which runs the stage loop; None: all threads)."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if thread is not None and thread not in frames[0]:
            continue
        c = int(count)
        own[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
        total += c
    if not total:
        return {"self": [], "total": []}
    return {"self": [(f, round(c / total, 4)) for f, c in own.most_common(n)],
            "total": [(f, round(c / total, 4)) for f, c in incl.most_common(n * 2)]}


class Profiler:
    def __init__(self, out_dir: Path, seconds: int = 20, names: tuple[str, ...] = ("ingest-0", "sink"),
                 tag: str = ""):
        self.tag = tag
        self.out_dir = out_dir
        self.seconds = seconds
        self.names = names
        self.procs: dict[str, tuple[subprocess.Popen, Path]] = {}
        self.result: dict[str, dict] = {}

    def start(self, pids: dict[str, int]) -> None:
        exe = pyspy()
        if exe is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            if name not in pids:
                continue
            out = self.out_dir / f"profile-{self.tag}{name}.txt"
            self.procs[name] = (subprocess.Popen(
                [exe, "record", "-d", str(self.seconds), "-r", "50", "--format", "raw", "--idle", "--nonblocking",
                 "-o", str(out), "--pid", str(pids[name])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out)

    def stop(self) -> dict[str, dict]:
        result: dict[str, dict] = {}
        for name, (proc, out) in self.procs.items():
            try:
                proc.wait(self.seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if out.exists():
                result[name] = top_functions(out.read_text())
        self.procs = {}
        self.result = result
        return result
