"""The embedded server of `make run` runs with authentication on (DESIGN §9); `nats-config` and `team-credentials`
as other systems use them; and a second `serve` on one data directory joins the running NATS or refuses in one
line (it ended in a NoServersError traceback: it handed the team-command broker an empty server list)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nats
import pytest

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import free_port
from frontdoor.nats_config import CREDENTIALS, TEAM_API_PREFIX, team_inbox_prefix, team_url
from frontdoor.settings import Settings
from tests.conftest import database_url

FRONTDOOR = [sys.executable, "-m", "frontdoor"]


def _settings(tmp_path: Path) -> Settings:
    return Settings(nats_url=None, data_dir=tmp_path / "data", database_url=database_url(tmp_path),
                    jwt_secret="embedded-auth-test-secret-0123456789")


async def test_the_embedded_server_refuses_strangers_and_serves_a_team_its_durable(tmp_path: Path) -> None:
    services = await start_services(_settings(tmp_path), run_projections=False, serve_team_commands=True)
    try:
        assert services.embedded is not None
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(services.embedded.url, max_reconnect_attempts=0, allow_reconnect=False,
                               connect_timeout=2)
        folder = tmp_path / "data" / "nats"
        assert oct((folder / CREDENTIALS).stat().st_mode & 0o777) == "0o600"
        team = await nats.connect(team_url(folder, "ot-central"), inbox_prefix=team_inbox_prefix("ot-central"))
        try:
            feed = await team.jetstream(prefix=TEAM_API_PREFIX).pull_subscribe(
                "team.ot-central.>", durable="team-ot-central", stream="TEAMS")
            with pytest.raises(nats.errors.TimeoutError):
                await feed.fetch(1, timeout=0.5)  # its durable exists and is empty
        finally:
            await team.close()
    finally:
        await stop_services(services)


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FRONTDOOR, *args], env=env, capture_output=True, text=True, timeout=120)


def test_nats_config_and_team_credentials(tmp_path: Path) -> None:
    env = os.environ | {"FRONTDOOR_DATA_DIR": str(tmp_path / "data")}
    out = tmp_path / "nats"
    made = _run("nats-config", "--out", str(out), "--port", "4999", env=env)
    assert made.returncode == 0, made.stderr
    assert {p.name for p in out.iterdir()} >= {"nats-server.conf", "auth.conf", "frontdoor.url", CREDENTIALS}
    assert 'include "auth.conf"' in (out / "nats-server.conf").read_text()
    assert (out / "frontdoor.url").read_text().startswith("nats://frontdoor:")
    assert "$2a$" in (out / "auth.conf").read_text()
    stored = json.loads((out / CREDENTIALS).read_text())
    assert stored["ot-central"]["password"] not in (out / "auth.conf").read_text()  # only its hash

    line = _run("team-credentials", "ot-central", "--config", str(out), env=env)
    assert line.returncode == 0 and line.stdout.count("\n") == 1
    assert line.stdout.strip() == f"nats://ot-central:{stored['ot-central']['password']}@127.0.0.1:4999"
    unknown = _run("team-credentials", "no-such-team", "--config", str(out), env=env)
    assert unknown.returncode != 0 and unknown.stdout == "" and unknown.stderr.count("\n") == 1

    again = _run("nats-config", "--out", str(out), "--rotate", "dn-central", env=env)
    assert again.returncode == 0, again.stderr
    after = json.loads((out / CREDENTIALS).read_text())
    assert after["ot-central"] == stored["ot-central"]  # kept: a restart must not lock a team out
    assert after["dn-central"]["password"] != stored["dn-central"]["password"]


def _wait_healthy(port: int, process: subprocess.Popen[str], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"serve on {port} not healthy within {within}s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=30)
    return err


def test_a_second_serve_on_one_data_directory_joins_or_refuses_in_one_line(tmp_path: Path) -> None:
    env = os.environ | {"FRONTDOOR_DATA_DIR": str(tmp_path / "data"), "FRONTDOOR_JWT_SECRET": "x" * 40}
    env.pop("FRONTDOOR_NATS_URL", None)
    first_port, second_port = free_port(), free_port()
    first = subprocess.Popen([*FRONTDOOR, "serve", "--port", str(first_port)], env=env, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_healthy(first_port, first)
        same_port = _run("serve", "--port", str(first_port), env=env)
        assert same_port.returncode != 0
        assert same_port.stderr.strip().count("\n") == 0 and "in use" in same_port.stderr, same_port.stderr

        second = subprocess.Popen([*FRONTDOOR, "serve", "--port", str(second_port)], env=env, text=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_healthy(second_port, second)
        finally:
            err = _stop(second)
        assert "Traceback" not in err and "NoServersError" not in err, err[-2000:]
    finally:
        _stop(first)


async def test_a_data_directory_from_before_authentication_keeps_its_events(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from events.catalogue import ResidentRegistered
    from events.codec import wrap
    from events.envelope import Actor
    from events.ids import uuid7
    from events.store import JetStreamEventStore
    from events.streams import ensure_streams
    from frontdoor.embedded_nats import EmbeddedNats

    old = EmbeddedNats(tmp_path / "data" / "nats").start()  # as `make run` ran it before: open, global account
    try:
        client = await nats.connect(old.url)
        js = client.jetstream()
        await ensure_streams(js)
        rid = uuid7()
        person = ResidentRegistered(given_name="Ada", family_name="Lovelace", date_of_birth=date(1940, 12, 10),
                                    postcode="SO14 7LY")
        await JetStreamEventStore(client, js).append(rid, [wrap(
            person, event_id=uuid7(), resident_id=rid, actor=Actor(id="t", role="call_handler"),
            occurred_at=datetime.now(UTC), correlation_id="c")], expected_seq=0)
        await client.close()
    finally:
        old.stop()
    services = await start_services(_settings(tmp_path), run_projections=False)
    try:
        assert [e.resident_id for e in await services.store.read_resident(rid)] == [rid]
    finally:
        await stop_services(services)
