"""`frontdoor serve` runs its projections in a child process (issue 15 item 1) and leaves nothing behind: started
and stopped twenty times (Ctrl-C and SIGTERM in turn) on one data directory, no nats-server or projector outlives
it and the data directory's lock is free each time. The first time round, a `?min_seq=` read is answered by
projections that are not in the API's process, and /health shows their state as the child reports it."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from frontdoor.api.auth import issue_token
from frontdoor.embedded_nats import free_port
from tests.integration.conftest import RESIDENT

TIMES = 20
DEADLINE_S = 60.0
SECRET = "lifecycle-test-secret-0123456789abcdef"


def children_of(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def alive(pid: int, cmdline: str) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        now = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return state != "Z" and now == cmdline


def lock_is_free(data_dir: Path) -> bool:
    fd = os.open(data_dir / "nats.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def log_lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def start_serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--port", str(port)], env=env,
                                stdout=out, stderr=out)


async def until(condition: Callable[[], Awaitable[bool]], what: str, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        with contextlib.suppress(httpx.TransportError):
            if await condition():
                return
        assert asyncio.get_running_loop().time() < deadline, f"{what}: {tail(log)}"
        await asyncio.sleep(0.1)


async def one_round(n: int, env: dict[str, str], headers: dict[str, str], log: Path) -> dict[int, str]:
    """Starts serve, checks it (and its children), stops it; returns the children it had."""
    port = free_port()
    serve = start_serve(port, env, log)
    children: dict[int, str] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
            async def healthy() -> bool:
                assert serve.poll() is None, tail(log)
                return (await http.get("/health")).status_code == 200

            async def reported() -> bool:
                report = (await http.get("/health")).json()
                return bool(report["projections"]["resident_view"]["state"] == "live")

            await until(healthy, "serve never answered", log)
            children = children_of(serve.pid)
            assert any("nats-server" in c for c in children.values()), children
            assert any("frontdoor project" in c for c in children.values()), children
            if n == 0:
                created = (await http.post("/residents", json=RESIDENT)).json()
                read = await http.get(f"/residents/{created['resident_id']}", params={"min_seq": created["seq"]})
                assert read.status_code == 200 and read.json()["details"]["family_name"] == "Lovelace"
                await until(reported, "the child's projections never reported live", log)
    finally:
        serve.send_signal(signal.SIGINT if n % 2 == 0 else signal.SIGTERM)
        try:
            code = await asyncio.to_thread(serve.wait, DEADLINE_S)
        except subprocess.TimeoutExpired:
            serve.kill()
            raise
    assert code == 0, tail(log)
    if n == 0:  # each request is logged once, by our middleware (uvicorn's own access log said it all again)
        lines = [json.loads(line) for line in log_lines(log) if line.startswith("{")]
        posts = [line for line in lines if line.get("message", "").startswith("POST /residents ")]
        assert [line["logger"] for line in posts] == ["frontdoor.http"], posts
        assert not [line for line in lines if line.get("logger") == "uvicorn.access"]
    return children


async def test_serve_started_and_stopped_twenty_times_leaves_no_process_and_no_lock(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = os.environ | {"FRONTDOOR_DATA_DIR": str(data), "FRONTDOOR_JWT_SECRET": SECRET}
    env.pop("FRONTDOOR_NATS_URL", None)
    env.pop("FRONTDOOR_DATABASE_URL", None)
    headers = {"Authorization": f"Bearer {issue_token(SECRET, sub='t', role='call_handler')}"}
    for n in range(TIMES):
        children = await one_round(n, env, headers, tmp_path / f"serve-{n}.log")
        left = {pid: cmd for pid, cmd in children.items() if alive(pid, cmd)}
        assert not left, f"round {n}: still running after serve stopped: {left}"
        assert lock_is_free(data), f"round {n}: the data directory's lock is still held"
