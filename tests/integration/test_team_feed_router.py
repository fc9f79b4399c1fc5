"""The team feed router against a real nats-server: a rebuild into a second database republishes nothing (what was
published is read from TEAMS itself), and after consent is withdrawn a team still gets the work addressed to it
and nothing else."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import event, select

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from projections.database import is_sqlite, sqlite_writers
from projections.tables import router_residents
from projections.team_router import TeamFeedRouter
from tests.integration.conftest import CONTACT, SECRET, auth
from tests.integration.test_http_workflow import refer, register
from tests.integration.test_team_nats import feed


async def _teams_messages(js: JetStreamContext) -> int:
    return int((await js.stream_info("TEAMS")).state.messages)


async def _settled(services: Services) -> int:
    """Waits until the router has published everything, including what the detector appended meanwhile."""
    while True:
        last = await services.store.last_seq()
        assert (await services.wait_for("team_router", last))[0]
        assert (await services.wait_for("duplicate_detector", last))[0]  # the one projection that appends
        if await services.store.last_seq() == last:
            return last


def _router(services: Services) -> TeamFeedRouter:
    projection = services.runners["team_router"].projection
    assert isinstance(projection, TeamFeedRouter)
    return projection


async def test_a_rebuild_into_a_second_database_republishes_nothing(client: httpx.AsyncClient, services: Services,
                                                                    nats_server: EmbeddedNats, js: JetStreamContext,
                                                                    tmp_path: Path) -> None:
    for team in ("ot-central", "dn-central", "housing-central"):
        resident = (await register(client, nhs_number=None))["resident_id"]
        await refer(client, resident, to_team=team)
        await client.post(f"/residents/{resident}/contacts", json=CONTACT)
    last = await _settled(services)
    published = await _teams_messages(js)
    assert published >= 6 and _router(services).published == published

    # `frontdoor project` on a second, empty database (FRONTDOOR_DATABASE_URL switched): its checkpoint row says
    # nothing was published; TEAMS says everything up to `last` was.
    second_db = f"sqlite+aiosqlite:///{tmp_path / 'second.db'}"
    await stop_services(services)  # the first process lets go of the router's lease
    rebuilt = await start_services(Settings(nats_url=nats_server.url, database_url=second_db,
                                            data_dir=tmp_path / "second", jwt_secret=SECRET), run_projections=True)
    try:
        assert (await rebuilt.wait_for("team_router", last))[0]
        # Counted at the router: inside JetStream's 120 s duplicate window the server would absorb a republish,
        # which is why the old high-water row in the database looked fine in tests and doubled the feed in use.
        assert _router(rebuilt).published == 0
        assert await _teams_messages(js) == published
        # and what comes next is published once, as before
        transport = httpx.ASGITransport(app=create_web_app(rebuilt))
        async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor",
                                     headers=auth("call_handler")) as second_client:
            resident = (await register(second_client, nhs_number=None))["resident_id"]
            made = await refer(second_client, resident, to_team="ot-central")
        assert made["seq"] > last
        await _settled(rebuilt)
        fresh = _router(rebuilt).published
        assert fresh >= 1 and await _teams_messages(js) == published + fresh
    finally:
        await stop_services(rebuilt)


async def test_after_consent_is_withdrawn_a_team_still_gets_work_addressed_to_it_and_nothing_else(
        client: httpx.AsyncClient, services: Services) -> None:
    rid = (await register(client))["resident_id"]
    await refer(client, rid, to_team="ot-central")
    await client.post(f"/residents/{rid}/consent", json={"decision": "granted", "basis": "verbal"})
    await client.post(f"/residents/{rid}/contacts", json=CONTACT)  # seen: involved, consent granted
    await client.post(f"/residents/{rid}/consent", json={"decision": "withdrawn", "basis": "verbal"})
    await client.post(f"/residents/{rid}/contacts", json=CONTACT | {"summary": "after the withdrawal"})
    later = await refer(client, rid, to_team="ot-central", need="housing",
                        reason="addressed to it after the withdrawal")
    # Started for the team by the front door: the team itself may not act on a resident who withdrew consent.
    started = await client.post(f"/residents/{rid}/assessments", json={"kind": "falls", "team": "ot-central"})
    assert started.status_code == 201, started.text
    accepted = await client.post(f"/referrals/{later['referral_id']}/accept",
                                 headers=auth("team", "ot-central", sub="ot-worker"))
    assert accepted.status_code == 200, accepted.text
    await refer(client, rid, to_team="dn-central", need="long-term condition")  # another team's work
    ot = await feed(services, "ot-central", expect=6)
    assert [h["Frontdoor-Type"] for _, h, _ in ot] == [
        "ReferralMade", "ConsentRecorded", "ContactRecorded", "ReferralMade", "AssessmentStarted", "ReferralAccepted"]
    assert "after the withdrawal" not in str([body for _, _, body in ot[:3]])
    assert ot[3][2]["data"]["reason"] == "addressed to it after the withdrawal"


async def test_a_team_gets_its_work_while_another_projection_holds_sqlites_write_turn(
        client: httpx.AsyncClient, services: Services, js: JetStreamContext) -> None:
    """The router publishes before its transaction (`Prepares`): on SQLite, where a process's projections write one
    at a time, a team's message waits for no other projection's write. Rows and checkpoint still follow the turn."""
    if not is_sqlite(services.engine):
        pytest.skip("the write turn is SQLite's: PostgreSQL writers do not queue in the process")
    rid = (await register(client))["resident_id"]
    await _settled(services)
    before = await _teams_messages(js)
    async with sqlite_writers(services.engine):  # as a long transaction of the resident view would
        made = await refer(client, rid, to_team="ot-central")
        deadline = asyncio.get_running_loop().time() + 10
        while await _teams_messages(js) == before:
            assert asyncio.get_running_loop().time() < deadline, "the team's message waited for the write turn"
            await asyncio.sleep(0.02)
        assert services.runners["team_router"].status.applied_seq < made["seq"]  # its rows wait for the turn
    assert (await services.wait_for("team_router", made["seq"]))[0]
    assert await _teams_messages(js) == before + 1  # published once, not again with the transaction


async def test_the_router_reads_a_residents_row_once_while_it_leads(client: httpx.AsyncClient,
                                                                   services: Services) -> None:
    """Issue 15: the router holds the rows it read or wrote (only it writes them), so calls from a resident it has
    seen read nothing; once it forgets (a transaction that did not commit, a new lead) it reads them again."""
    rid = (await register(client))["resident_id"]
    await refer(client, rid, to_team="ot-central")
    await _settled(services)
    selects: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "team_router_residents" in statement:
            selects.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for n in range(5):
            answered = await client.post(f"/residents/{rid}/contacts", json=CONTACT | {"summary": f"call {n}"})
            assert answered.status_code == 201, answered.text
        await _settled(services)
        assert selects == []
        _router(services).forget()
        await client.post(f"/residents/{rid}/contacts", json=CONTACT)
        await _settled(services)
        assert len(selects) == 1
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    async with services.engine.connect() as conn:
        teams = await conn.scalar(select(router_residents.c.teams).where(router_residents.c.resident_id == rid))
    assert teams == '["ot-central"]'
