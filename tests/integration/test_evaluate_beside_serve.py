"""`frontdoor evaluate` the way the README suggests: `serve --demo` running (its demo city loaded), a second city
written beside it with `demo-city --truth`, then `evaluate --truth` in a third process. The running service holds
the projection leases and applies the events; evaluate waits on what it writes down instead of on runners of its
own that stand by, and scores only the truth file's city, not the demo city's flags."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.evaluation import RULES
from tests.conftest import database_url

FRONTDOOR = str(Path(sys.executable).parent / "frontdoor")
SEED = 8080  # no other test writes this city
RESIDENTS = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path, engine: AsyncEngine) -> dict[str, str]:
    """The three processes share one data directory (one embedded nats-server) and one read-model database
    (emptied by `engine` on PostgreSQL)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    return base | {"FRONTDOOR_DATA_DIR": str(tmp_path / "data"), "FRONTDOOR_DATABASE_URL": database_url(tmp_path)}


@pytest.fixture
def service(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([FRONTDOOR, "serve", "--port", str(port), "--demo"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def _up(url: str, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + 180
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{url}/health", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"serve did not start: {(await asyncio.to_thread(log.read_text))[-3000:]}")
            await asyncio.sleep(0.2)


async def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, [FRONTDOOR, *args], env=env, capture_output=True, text=True,
                                   timeout=300, check=False)


async def test_evaluate_beside_a_running_serve_scores_only_the_truth_files_city(
        env: dict[str, str], service: str, tmp_path: Path) -> None:
    await _up(service, tmp_path / "serve.log")
    truth_path = tmp_path / "truth.json"
    written = await _run(env, "demo-city", "--residents", str(RESIDENTS), "--seed", str(SEED),
                         "--truth", str(truth_path))
    assert written.returncode == 0, written.stderr

    scored = await _run(env, "evaluate", "--truth", str(truth_path), "--json", "--wait", "240")

    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    scope = result["scope"]
    assert (scope["seed"], scope["residents"]) == (SEED, RESIDENTS)
    assert scope["left_out"] > 0, scope  # the demo city's flags, not counted against this city
    scores = {s["rule"]: s for s in result["scores"]}
    assert set(scores) == set(RULES)
    for rule in RULES:
        assert scores[rule]["expected"] > 0, scores[rule]
        assert scores[rule]["true_positives"] == scores[rule]["flagged"], scores[rule]
        if rule != "possible_duplicate_resident":  # the city's two pairs: one is Caz for Caroline (no rule has it)
            assert scores[rule]["recall"] == 1.0, scores[rule]
    async with httpx.AsyncClient() as client:
        health = (await client.get(f"{service}/health", timeout=5)).json()
    assert all(health["projections"][name]["state"] == "live" for name in ("duplicate_detector", "flags")), health
