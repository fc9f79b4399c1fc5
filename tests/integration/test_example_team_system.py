"""The example team system (examples/team_system/) runs as a team would run it, against a server started from the
generated configuration: it accepts a referral made over HTTP (the view shows it accepted), catches up after a
restart without missing or repeating an event, and completes a referral when asked."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from frontdoor.nats_config import team_url
from frontdoor.services import Services
from frontdoor.web import create_web_app
from tests.integration.conftest import auth
from tests.integration.secured_nats import SecuredNats, frontdoor, secured, wait_until
from tests.integration.test_http_workflow import refer, register

__all__ = ["frontdoor", "secured"]  # the fixtures
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "team_system"
OT = "ot-central"


def _env(secured: SecuredNats, caseload: Path) -> dict[str, str]:
    return os.environ | {"TEAM_ID": OT, "TEAM_NATS_URL": team_url(secured.folder, OT), "CASELOAD_DB": str(caseload)}


@pytest.fixture
def caseload(tmp_path: Path) -> Path:
    return tmp_path / "caseload.db"


def _start(secured: SecuredNats, caseload: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "team_system.py"], cwd=EXAMPLE, env=_env(secured, caseload),
                                stdout=out, stderr=out)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def team_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "team_system.log"
    yield path
    if path.exists():
        sys.stderr.write(path.read_text()[-3000:])


async def _status(http: httpx.AsyncClient, resident: str, referral: str) -> str:
    response = await http.get(f"/residents/{resident}")
    if response.status_code != 200:  # the view has not got the resident yet
        return ""
    return str(next((r["status"] for r in response.json()["referrals"] if r["referral_id"] == referral), ""))


def _applied(caseload: Path) -> list[int]:
    if not caseload.exists():
        return []
    with sqlite3.connect(caseload) as db:
        return [row[0] for row in db.execute("SELECT source_seq FROM applied ORDER BY source_seq")]


async def test_the_example_accepts_catches_up_after_a_restart_and_completes(
        secured: SecuredNats, frontdoor: Services, caseload: Path, team_log: Path) -> None:
    transport = httpx.ASGITransport(app=create_web_app(frontdoor))
    async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor", timeout=30,
                                 headers=auth("call_handler")) as http:
        team = _start(secured, caseload, team_log)
        try:
            first = (await register(http, nhs_number=None))["resident_id"]
            made = await refer(http, first, to_team=OT)
            await wait_until(lambda: _is(http, first, made["referral_id"], "accepted"), within=60,
                             what="the example accepting the referral")
        finally:
            _stop(team)

        # Offline: more work arrives. Back: it is all taken up, once.
        second = (await register(http, nhs_number=None, given_name="Grace"))["resident_id"]
        later = await refer(http, second, to_team=OT, need="housing")
        team = _start(secured, caseload, team_log)
        try:
            await wait_until(lambda: _is(http, second, later["referral_id"], "accepted"), within=60,
                             what="the example accepting the referral made while it was down")
            # Not subprocess.run: the front door answering the command runs on this very event loop.
            done = await asyncio.create_subprocess_exec(
                sys.executable, "team_system.py", "complete", later["referral_id"], "rails fitted", cwd=EXAMPLE,
                env=_env(secured, caseload), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(done.communicate(), 60)
            assert done.returncode == 0, (out, err)
            await wait_until(lambda: _is(http, second, later["referral_id"], "completed"), within=30,
                             what="the completion")
            await wait_until(lambda: _caught_up(frontdoor, caseload), within=30, what="the caseload taking every event")
        finally:
            _stop(team)
    with sqlite3.connect(caseload) as db:
        statuses = dict(db.execute("SELECT referral_id, status FROM referrals").fetchall())
    assert statuses == {made["referral_id"]: "accepted", later["referral_id"]: "completed"}


async def _is(http: httpx.AsyncClient, resident: str, referral: str, status: str) -> bool:
    return await _status(http, resident, referral) == status


async def _caught_up(services: Services, caseload: Path) -> bool:
    feed = await _feed_seqs(services)
    return len(feed) >= 4 and _applied(caseload) == feed  # made, accepted; made, accepted, completed


async def _feed_seqs(services: Services) -> list[int]:
    """The source sequences of every message on OT's feed (each once, in order)."""
    info = await services.js.stream_info("TEAMS")
    seqs = []
    for seq in range(1, int(info.state.last_seq) + 1):
        msg = await services.js.get_msg("TEAMS", seq)
        if msg.subject.startswith(f"team.{OT}."):
            seqs.append(int((msg.headers or {})["Frontdoor-Source-Seq"]))
    return seqs
