"""The synthetic city written through the real command path into a real nats-server: the stream holds exactly
the planned events, the truth file is well formed, and writing the same city again writes nothing new."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from events.subjects import CARE_STREAM
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.demo_city.plan import plan_city
from frontdoor.demo_city.writer import write_city
from frontdoor.domain import commands as c
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from frontdoor.settings import Settings
from tests.conftest import database_url

TODAY = date(2026, 11, 23)
RULES = {"parallel_referrals", "repeat_assessment", "tell_my_story_again", "handoff_ping_pong", "two_coordinators"}


@pytest.fixture
async def writer(nats_server: EmbeddedNats, js: JetStreamContext, tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(nats_url=nats_server.url, database_url=database_url(tmp_path), data_dir=tmp_path / "data",
                        jwt_secret="demo-city-test-secret-0123456789abcdef")
    services = await start_services(settings, run_projections=False)
    yield services
    await stop_services(services)


async def _messages(js: JetStreamContext) -> int:
    return int((await js.stream_info(CARE_STREAM)).state.messages)


async def test_a_city_is_written_once_with_its_truth_and_again_writes_nothing(
        writer: Services, js: JetStreamContext, tmp_path: Path) -> None:
    city = plan_city(seed=11, residents=50, teams=writer.teams, today=TODAY)
    steps = [step for i in range(50) for step in city.resident(i).steps]
    # One event a step, and a link is written to both records.
    planned = len(steps) + sum(isinstance(step.command, c.LinkResidents) for step in steps)
    assert planned > len(steps)
    truth_path = tmp_path / "truth.json"

    first = await write_city(writer, residents=50, seed=11, truth_path=truth_path, progress=False, today=TODAY)

    assert (first.residents, first.events, first.already_there) == (50, planned, 0)
    assert await _messages(js) == planned
    truth = json.loads(truth_path.read_text())
    assert truth == city.truth().to_json()
    assert set(truth) == {"seed", "residents", "duplicate_work", "duplicate_people", "near_misses"}
    assert {w["rule"] for w in truth["duplicate_work"]} == RULES
    for entry in truth["duplicate_work"] + truth["near_misses"]:
        assert set(entry) == {"rule", "resident_id", "references"} | ({"why_not"} if "why_not" in entry else set())
        written = await writer.store.read_resident(entry["resident_id"])
        ids = {str(v) for e in written for k, v in e.envelope.data.items() if k.endswith("_id")}
        for ref in entry["references"]:
            assert ref in ids or await writer.store.read_resident(ref), entry
    for pair in truth["duplicate_people"]:
        assert pair["kind"] in {"typo", "nickname", "missing_nhs_number", "moved_house", "transposed_date", "initial",
                                "prefix_name", "transposed_digits"}
        first_seq, second_seq = [(await writer.store.read_resident(rid))[0].seq for rid in pair["resident_ids"]]
        assert first_seq < second_seq  # the second registration lands after the person it resembles
    for i in range(50):
        registered = city.resident(i).steps[0].command
        number = getattr(registered, "nhs_number", None)
        if number is not None:
            claim = await writer.claims.owner(number)
            assert claim is not None and claim.resident_id == city.resident_id(i)

    again = await write_city(writer, residents=50, seed=11, progress=False, today=TODAY)

    assert (again.events, again.already_there) == (0, len(steps))
    assert await _messages(js) == planned


async def test_a_second_process_writing_the_same_city_writes_nothing_new(
        nats_server: EmbeddedNats, js: JetStreamContext, writer: Services, tmp_path: Path) -> None:
    """A fresh process has no cached states: it recognises every event from the stream itself."""
    first = await write_city(writer, residents=20, seed=4, progress=False, today=TODAY)
    city = plan_city(seed=4, residents=20, teams=writer.teams, today=TODAY)
    links = sum(isinstance(step.command, c.LinkResidents) for i in range(20) for step in city.resident(i).steps)
    settings = Settings(nats_url=nats_server.url, database_url=database_url(tmp_path), data_dir=tmp_path / "other")
    other = await start_services(settings, run_projections=False)
    try:
        again = await write_city(other, residents=20, seed=4, progress=False, today=TODAY)
    finally:
        await stop_services(other)
    assert first.events > 0 and (again.events, again.already_there) == (0, first.events - links)
    assert await _messages(js) == first.events


async def test_the_demo_city_command(nats_server: EmbeddedNats, js: JetStreamContext, tmp_path: Path) -> None:
    truth_path = tmp_path / "city.json"
    env = {**os.environ, "FRONTDOOR_NATS_URL": nats_server.url, "FRONTDOOR_DATA_DIR": str(tmp_path / "data")}
    command = [str(Path(sys.executable).parent / "frontdoor"), "demo-city", "--residents", "30", "--seed", "5",
               "--truth", str(truth_path)]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120,
                                   check=False)
    assert done.returncode == 0, done.stderr
    assert "30 residents" in done.stderr
    truth = json.loads(truth_path.read_text())
    assert (truth["seed"], truth["residents"]) == (5, 30)
    assert await _messages(js) > 30 * 4
    # The city's audit stream is empty (nobody has read a record yet): `evaluate` must not wait for it.
    command = [str(Path(sys.executable).parent / "frontdoor"), "evaluate", "--truth", str(truth_path), "--json",
               "--wait", "90"]
    scored = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=150,
                                     check=False)
    assert scored.returncode == 0, scored.stderr
    scores = {s["rule"]: s for s in json.loads(scored.stdout)["scores"]}
    assert set(scores) == RULES | {"possible_duplicate_resident"}
    for rule in RULES:
        assert scores[rule]["expected"] == sum(1 for w in truth["duplicate_work"] if w["rule"] == rule)
        assert scores[rule]["true_positives"] == scores[rule]["flagged"] > 0, scores[rule]


async def test_evaluate_refuses_a_truth_file_of_another_shape_in_one_line(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"duplicate_work": [{"rule": "parallel_referrals"}]}')
    command = [str(Path(sys.executable).parent / "frontdoor"), "evaluate", "--truth", str(wrong)]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"frontdoor: cannot read the truth file {wrong}: duplicate_work[0] needs rule and references"]
