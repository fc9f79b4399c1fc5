"""The detector live over HTTP: a flag appears after the event that causes it, closes when the cause goes away,
and a rebuild of the detector never flags the same thing twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from events.catalogue import DuplicationFlagged
from frontdoor.services import Services
from projections.database import is_sqlite, sqlite_writers
from projections.detector import DuplicateDetector
from projections.runner import ProjectionRunner
from tests.integration.conftest import RESIDENT, auth
from tests.integration.test_projection_runner import running


async def flags_until(client: httpx.AsyncClient, predicate: Any, **params: Any) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        found: list[dict[str, Any]] = (await client.get("/flags", params=params)).json()["flags"]
        if predicate(found):
            return found
        assert asyncio.get_running_loop().time() < deadline, f"flags never matched: {found}"
        await asyncio.sleep(0.05)


async def test_parallel_referrals_are_flagged_and_the_flag_closes_when_one_is_withdrawn(
        client: httpx.AsyncClient, services: Services) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    first = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "ot-central", "need": "mobility and falls", "reason": "falls"})).json()
    second = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "reab-central", "need": "mobility and falls", "reason": "falls again"})).json()
    flagged = await flags_until(client, lambda f: len(f) == 1, resident_id=rid)
    flag = flagged[0]
    assert flag["rule"] == "parallel_referrals" and flag["status"] == "open"
    assert sorted(flag["references"]) == sorted([first["referral_id"], second["referral_id"]])
    assert "mobility and falls" in flag["explanation"]
    view = (await client.get(f"/residents/{rid}", params={"min_seq": flag["raised_seq"]})).json()
    assert [f["flag_id"] for f in view["open_flags"]] == [flag["flag_id"]]

    await client.post(f"/referrals/{second['referral_id']}/withdraw", json={"reason": "OT is enough"})
    closed = await flags_until(client, lambda f: f and f[0]["status"] == "resolved", resident_id=rid)
    assert closed[0]["resolution"] == "no_longer_duplicated"

    # Rebuilding the detector replays everything and must not flag again.
    for task in services.tasks:
        task.cancel()
    before = await services.store.count()
    (detector,) = [r.projection for r in services.runners.values() if isinstance(r.projection, DuplicateDetector)]
    raised_live = detector.flags_raised
    runner = ProjectionRunner(services.nc, services.js, services.engine, detector)
    await runner.reset()
    async with running(runner):
        assert await runner.wait_for(before, 30)
    assert await services.store.count() == before
    assert detector.flags_raised == raised_live  # the replay asked for no flag at all


async def test_a_second_registration_of_one_person_is_flagged_and_can_be_linked(
        client: httpx.AsyncClient, services: Services) -> None:
    first = (await client.post("/residents", json=RESIDENT | {"given_name": "Margaret", "nhs_number": None})).json()
    assert first["likely_matches"] == []
    await client.get(f"/residents/{first['resident_id']}", params={"min_seq": first["seq"]})
    second = (await client.post("/residents", json=RESIDENT | {"given_name": "Peggy", "nhs_number": None,
                                                                "postcode": "SO16 3DD"})).json()
    # The call handler is offered the existing record at once.
    assert [m["resident_id"] for m in second["likely_matches"]] == [first["resident_id"]]
    assert second["likely_matches"][0]["given_name"] == "Margaret"
    spouse = (await client.post("/residents", json=RESIDENT | {"given_name": "Albert", "nhs_number": None,
                                                                "date_of_birth": "1939-02-02"})).json()
    flagged = await flags_until(client, lambda f: len(f) >= 1, rule="possible_duplicate_resident")
    assert len(flagged) == 1
    assert sorted(flagged[0]["references"]) == sorted([first["resident_id"], second["resident_id"]])
    assert spouse["resident_id"] not in flagged[0]["references"]
    resolved = await client.post(f"/flags/{flagged[0]['flag_id']}/resolve",
                                 json={"resolution": "linked_records", "note": "same person, nickname"},
                                 headers=auth("coordinator"))
    assert resolved.status_code == 200, resolved.text
    view = (await client.get(f"/residents/{second['resident_id']}",
                             params={"min_seq": resolved.json()["seq"]})).json()
    assert view["linked_residents"] == [first["resident_id"]]


async def test_a_flag_is_raised_while_another_projection_holds_sqlites_write_turn(
        client: httpx.AsyncClient, services: Services) -> None:
    """The detector decides and raises its flags before its transaction (`Prepares`): on SQLite, where a process's
    projections write one at a time, a flag's command no longer holds (or waits for) every projection's turn."""
    if not is_sqlite(services.engine):
        pytest.skip("the write turn is SQLite's: PostgreSQL writers do not queue in the process")
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    first = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "ot-central", "need": "housing", "reason": "a"})).json()
    assert (await services.wait_for("duplicate_detector", first["seq"]))[0]
    async with sqlite_writers(services.engine):  # as a long transaction of another projection would
        second = (await client.post(f"/residents/{rid}/referrals", json={
            "to_team": "housing-central", "need": "housing", "reason": "b"})).json()
        deadline = asyncio.get_running_loop().time() + 10
        while not any(isinstance(e.event, DuplicationFlagged) for e in await services.store.read_resident(rid)):
            assert asyncio.get_running_loop().time() < deadline, "the flag waited for the write turn"
            await asyncio.sleep(0.02)
        assert services.runners["duplicate_detector"].status.applied_seq < second["seq"]  # its rows wait
    flagged = await flags_until(client, lambda f: len(f) == 1, resident_id=rid)
    assert flagged[0]["rule"] == "parallel_referrals"
