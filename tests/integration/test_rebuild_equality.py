"""Read models are disposable (DESIGN §1): after a varied workload over HTTP, dropping every projection and
replaying the streams from the start gives the same rows, table for table and row for row, and the projections
that emit (the detector, the team router) emit nothing while they replay what they already handled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, select

from events.subjects import CARE_STREAM, TEAMS_STREAM
from frontdoor.bootstrap import all_projections
from frontdoor.services import Services
from projections.checkpoints import load_checkpoint
from projections.projection import Projection
from projections.runner import ProjectionRunner
from tests.integration.conftest import CONTACT, RESIDENT, auth

DEADLINE_S = 60.0
PEOPLE: list[dict[str, Any]] = [
    RESIDENT,
    {"given_name": "Charles", "family_name": "Babbage", "date_of_birth": "1931-12-26", "postcode": "SO17 1BJ",
     "gp_practice": "Highfield", "cluster": "central"},
    {"given_name": "Mary", "family_name": "Somerville", "date_of_birth": "1940-12-26", "postcode": "SO16 3QQ",
     "nhs_number": "401 023 2137"},
    {"given_name": "Grace", "family_name": "Hopper", "date_of_birth": "1946-12-09", "postcode": "SO19 9EE"},
    {"given_name": "Alan", "family_name": "Turing", "date_of_birth": "1942-06-23", "postcode": "SO15 5QF"},
    {"given_name": "Alan", "family_name": "Turing", "date_of_birth": "1942-06-23", "postcode": "SO15 5QF"},
]


def stream_of(projection: Projection) -> str:
    return str(getattr(projection, "stream", CARE_STREAM))


def tables_of(projections: Sequence[Projection]) -> list[Table]:
    found: dict[str, Table] = {}
    for projection in projections:
        for table in projection.tables:
            found[table.name] = table
    return [found[name] for name in sorted(found)]


async def dump(services: Services, tables: list[Table]) -> dict[str, list[tuple[Any, ...]]]:
    async with services.engine.connect() as conn:
        return {t.name: sorted((tuple(row) for row in await conn.execute(select(t))), key=repr) for t in tables}


async def last_seq(services: Services, stream: str) -> int:
    return int((await services.js.stream_info(stream)).state.last_seq)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def workload(client: httpx.AsyncClient) -> None:
    """Every kind of fact: registrations and a correction, contacts, consent, referrals through every step,
    assessments, coordinators, a link, duplicated work flagged and resolved, and audited reads."""
    ids = [(ok(await client.post("/residents", json=person)))["resident_id"] for person in PEOPLE]
    ada, charles, mary, grace, alan, _alan_again = ids
    dn, ot = auth("team", "dn-central", sub="dn-1"), auth("team", "ot-central", sub="ot-1")
    ok(await client.patch(f"/residents/{charles}", json={"postcode": "SO17 1BK", "reason": "moved"}))
    for n, resident in enumerate(ids):
        for k in range(n % 3 + 1):
            contact = CONTACT | {"summary": f"call {k}", "urgency": ("routine", "urgent")[k % 2]}
            ok(await client.post(f"/residents/{resident}/contacts", json=contact))
    ok(await client.post(f"/residents/{mary}/consent", json={"decision": "granted", "scope": ["nhs"]}))
    ok(await client.post(f"/residents/{grace}/consent", json={"decision": "refused"}))

    # Referrals through every step.
    full = (ok(await client.post(f"/residents/{ada}/referrals",
                                       json={"to_team": "dn-central", "need": "mobility and falls"})))["referral_id"]
    ok(await client.post(f"/referrals/{full}/accept", headers=dn))
    ok(await client.post(f"/referrals/{full}/handoff", headers=dn, json={"to_team": "ot-central",
                                                                               "reason": "OT"}))
    ok(await client.post(f"/referrals/{full}/accept", headers=ot))
    ok(await client.post(f"/referrals/{full}/complete", headers=ot, json={"outcome": "rails fitted"}))
    declined = (ok(await client.post(f"/residents/{charles}/referrals",
                                           json={"to_team": "asc-central", "need": "personal care"})))["referral_id"]
    ok(await client.post(f"/referrals/{declined}/decline", headers=auth("team", "asc-central"),
                               json={"reason": "outside criteria"}))
    withdrawn = (ok(await client.post(f"/residents/{mary}/referrals",
                                            json={"to_team": "housing-central", "need": "housing"})))["referral_id"]
    ok(await client.post(f"/referrals/{withdrawn}/accept", headers=auth("team", "housing-central")))
    ok(await client.post(f"/referrals/{withdrawn}/withdraw", json={"reason": "rehoused"}))
    # Parallel referrals for one need (a flag the detector raises), one left waiting.
    ok(await client.post(f"/residents/{grace}/referrals", json={"to_team": "dn-central",
                                                                      "need": "long-term condition"}))
    ok(await client.post(f"/residents/{grace}/referrals", json={"to_team": "dn-north",
                                                                      "need": "long-term condition"}))
    ok(await client.post(f"/residents/{alan}/referrals", json={"to_team": "ageuk-central",
                                                                     "need": "social isolation", "urgency": "soon"}))

    started = ok(await client.post(f"/residents/{alan}/assessments", json={"kind": "OT", "team": "ot-central"}))
    ok(await client.post(f"/assessments/{started['assessment_id']}/complete", headers=ot,
                               json={"outcome": "perching stool"}))
    ok(await client.post(f"/residents/{alan}/assessments", json={"kind": "falls", "team": "dn-central"}))
    for worker, team in (("Sam Carter", "asc-central"), ("Jo Hale", "reab-central")):
        ok(await client.put(f"/residents/{ada}/care-coordinator", json={"team_id": team, "worker": worker}))
    ok(await client.put(f"/residents/{charles}/care-coordinator", json={"team_id": "asc-central",
                                                                             "worker": "Kim"}))
    ok(await client.post(f"/residents/{ada}/links", headers=auth("admin", sub="admin-1"),
                               json={"other_resident_id": charles, "evidence": "same person"}))

    # Resolve one flag the detector raised, once it is there (Alan twice, or Grace's parallel referrals).
    admin = auth("admin", sub="admin-1")
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        listed = ok(await client.get("/flags", params={"status": "open"}, headers=admin))
        rules = {f["rule"]: f for f in listed["flags"]}
        if {"possible_duplicate_resident", "parallel_referrals"} <= set(rules):
            break
        assert asyncio.get_running_loop().time() < deadline, f"the detector raised only {sorted(rules)}"
        await asyncio.sleep(0.05)
    ok(await client.post(f"/flags/{rules['parallel_referrals']['flag_id']}/resolve", headers=admin,
                               json={"resolution": "not_a_duplicate", "note": "different services"}))

    for resident in ids:  # audited reads, for the audit log projection
        ok(await client.get(f"/residents/{resident}", headers={"X-Purpose": "rebuild test"}))
    ok(await client.get(f"/residents/{ada}", headers=ot))


async def stored_checkpoint(services: Services, name: str, wanted: int) -> int:
    """The projection's checkpoint as stored, once it is `wanted` (or as it is at the deadline)."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        async with services.engine.connect() as conn:
            stored = await load_checkpoint(conn, name)
        if stored == wanted or asyncio.get_running_loop().time() > deadline:
            return stored
        await asyncio.sleep(0.05)


async def caught_up(services: Services, runners: dict[str, ProjectionRunner]) -> dict[str, int]:
    """Waits until every runner has applied its whole stream and the streams stop growing (the detector emits
    after what it reads); returns each stream's last sequence."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        ends = {s: await last_seq(services, s) for s in {stream_of(r.projection) for r in runners.values()}}
        for runner in runners.values():
            left = deadline - asyncio.get_running_loop().time()
            assert await runner.wait_for(ends[stream_of(runner.projection)], max(left, 0.01)), (
                runner.name, runner.status)
        if ends == {s: await last_seq(services, s) for s in ends}:
            return ends


@pytest.mark.parametrize("batch", [500, 3], ids=["whole-batches", "small-batches"])
async def test_a_rebuild_from_the_streams_gives_the_same_rows(client: httpx.AsyncClient, services: Services,
                                                              batch: int) -> None:
    await workload(client)
    ends = await caught_up(services, services.runners)
    projections = all_projections(services)
    tables = tables_of(projections)
    assert {"residents", "resident_views", "referrals", "assessments"} <= {t.name for t in tables}
    before = await dump(services, tables)
    assert all(before[t.name] for t in tables if t.name != "projection_dead_letters"), {
        name: len(rows) for name, rows in before.items()}
    care, teams = await services.store.count(), (await services.js.stream_info(TEAMS_STREAM)).state.messages

    for task in services.tasks:  # the live runners stop (and give up their leases)
        task.cancel()
    for task in services.tasks:
        with contextlib.suppress(BaseException):
            await task

    for projection in projections:
        runner = ProjectionRunner(services.nc, services.js, services.engine, projection, batch=batch,
                                  stream=stream_of(projection))
        await runner.reset()
        async with services.engine.connect() as conn:
            assert await load_checkpoint(conn, projection.name) == 0
            for table in projection.tables:
                assert (await conn.execute(select(table))).first() is None, table.name
        task = asyncio.create_task(runner.run(), name=f"rebuild-{projection.name}")
        try:
            assert await runner.wait_for(ends[stream_of(projection)], DEADLINE_S), (projection.name, runner.status)
            # Events a projection ignores move its stored checkpoint lazily: at the latest once the feed is idle.
            assert await stored_checkpoint(services, projection.name, ends[stream_of(projection)]) == \
                ends[stream_of(projection)]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    after = await dump(services, tables)
    for table in tables:
        assert after[table.name] == before[table.name], table.name
    # Replaying emitted nothing: no flag raised twice, no team message sent again.
    assert await services.store.count() == care
    assert (await services.js.stream_info(TEAMS_STREAM)).state.messages == teams
