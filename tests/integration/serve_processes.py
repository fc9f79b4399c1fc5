"""`frontdoor serve` as child processes against the session's NATS and the test database: for the guarantees that
only hold if they hold across processes (issue 9: "test the ones that depend on it with two")."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx

from frontdoor.embedded_nats import free_port
from tests.conftest import database_url
from tests.integration.conftest import SECRET, auth

START_DEADLINE_S = 60.0


@contextlib.contextmanager
def serve_processes(count: int, nats_url: str, tmp_path: Path) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    started: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for n in range(count):
            port = free_port()
            env = os.environ | {"FRONTDOOR_NATS_URL": nats_url, "FRONTDOOR_DATABASE_URL": database_url(tmp_path),
                                "FRONTDOOR_DATA_DIR": str(tmp_path / f"serve-{n}"), "FRONTDOOR_JWT_SECRET": SECRET}
            log = open(tmp_path / f"serve-{n}.log", "ab")  # noqa: SIM115 - the child keeps it
            process = subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--host", "127.0.0.1",
                                        "--port", str(port)], env=env, stdout=log, stderr=log)
            started.append((process, port))
        yield started
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_healthy(http: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + START_DEADLINE_S
    while True:
        assert process.poll() is None, f"frontdoor serve exited: {tail(log)}"
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/health")).status_code == 200:
                return
        assert asyncio.get_running_loop().time() < deadline, f"not healthy in time: {tail(log)}"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def http_clients(ports: list[int]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        # A fresh connection per request: a pooled keep-alive connection that uvicorn closes when idle (5 s) can
        # be reused by the client at that instant and fail as a ReadError, which would say nothing about frontdoor.
        yield [await stack.enter_async_context(httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers=auth("call_handler"),
            limits=httpx.Limits(max_keepalive_connections=0))) for port in ports]
