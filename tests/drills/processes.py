"""`frontdoor serve` and `frontdoor project` as real child processes, for drills that kill them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from frontdoor.embedded_nats import _die_with_parent, free_port

FRONTDOOR = str(Path(sys.executable).parent / "frontdoor")


@dataclass
class Process:
    name: str
    port: int
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Process:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.popen = subprocess.Popen([FRONTDOOR, *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=_die_with_parent)
        return self

    def wait_healthy(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy within {within:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def frontdoor_env(*, nats_url: str, database_url: str, data_dir: Path, secret: str, replicas: int = 3,
                  **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env |= {"FRONTDOOR_NATS_URL": nats_url, "FRONTDOOR_DATABASE_URL": database_url,
            "FRONTDOOR_DATA_DIR": str(data_dir), "FRONTDOOR_JWT_SECRET": secret,
            "FRONTDOOR_STREAM_REPLICAS": str(replicas), "FRONTDOOR_LOG_FORMAT": "json",
            "FRONTDOOR_LEASE_TTL_S": "2"}
    env |= {f"FRONTDOOR_{k.upper()}": v for k, v in extra.items()}
    return env


def api(name: str, env: dict[str, str], logs: Path) -> Process:
    port = free_port()
    return Process(name, port, ["serve", "--host", "127.0.0.1", "--port", str(port)], env, logs / f"{name}.log")


def projector(name: str, env: dict[str, str], logs: Path) -> Process:
    port = free_port()
    return Process(name, port, ["project", "--metrics-port", str(port)], env, logs / f"{name}.log")
