"""Who may read a record, over HTTP against real NATS and SQL: a team only with work for the resident and no
refusal of consent; an analyst never; and every read that returns a record is audited exactly once, while a
refused or failed read is audited not at all."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from frontdoor.services import Services
from tests.integration.conftest import RESIDENT, auth
from tests.integration.test_http_workflow import assert_problem, refer, register

DN = auth("team", "dn-central", sub="dn-nurse")
OT = auth("team", "ot-central", sub="ot-worker")


async def audited(services: Services) -> int:
    return int((await services.js.stream_info("AUDIT")).state.messages)


async def settled(client: httpx.AsyncClient, services: Services, resident_id: str) -> int:
    """Waits (through a staff read, itself audited) until the views have every event written so far; returns
    the audit count after that read."""
    response = await client.get(f"/residents/{resident_id}", params={"min_seq": await services.store.last_seq()})
    assert response.status_code == 200, response.text
    return await audited(services)


async def read_as(client: httpx.AsyncClient, resident_id: str, headers: dict[str, str],
                  **params: Any) -> httpx.Response:
    return await client.get(f"/residents/{resident_id}", headers=headers, params=params)


async def test_a_team_with_no_work_for_the_resident_cannot_read_the_record(client: httpx.AsyncClient,
                                                                           services: Services) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident, to_team="ot-central")
    before = await settled(client, services, resident)
    problem = assert_problem(await read_as(client, resident, DN), 403)
    assert "dn-central" in problem["detail"]
    assert await audited(services) == before


async def test_a_team_with_a_referral_reads_the_record_and_is_audited_once(client: httpx.AsyncClient,
                                                                            services: Services) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident)
    before = await settled(client, services, resident)
    response = await read_as(client, resident, DN | {"X-Purpose": "triage"})
    assert response.status_code == 200, response.text
    assert response.json()["resident_id"] == resident
    assert await audited(services) == before + 1
    viewed = await services.js.get_last_msg("AUDIT", "audit.RecordViewed")
    assert viewed.data is not None
    assert b"dn-nurse" in viewed.data and resident.encode() in viewed.data and b"triage" in viewed.data


async def test_a_team_that_assesses_or_coordinates_may_read_the_record(client: httpx.AsyncClient,
                                                                       services: Services) -> None:
    resident = (await register(client))["resident_id"]
    started = await client.post(f"/residents/{resident}/assessments", json={"kind": "OT", "team": "ot-central"})
    assert started.status_code == 201
    coordinator = await client.put(f"/residents/{resident}/care-coordinator",
                                   json={"team_id": "asc-central", "worker": "Sam"})
    seq = coordinator.json()["seq"]
    assert (await read_as(client, resident, OT, min_seq=seq)).status_code == 200
    assert (await read_as(client, resident, auth("team", "asc-central"), min_seq=seq)).status_code == 200
    assert (await read_as(client, resident, DN, min_seq=seq)).status_code == 403


@pytest.mark.parametrize("decision", ["refused", "withdrawn"])
async def test_a_refused_or_withdrawn_consent_shuts_every_team_out(client: httpx.AsyncClient, services: Services,
                                                                   decision: str) -> None:
    resident = (await register(client))["resident_id"]
    made = await refer(client, resident)
    assert (await read_as(client, resident, DN, min_seq=made["seq"])).status_code == 200
    consent = await client.post(f"/residents/{resident}/consent", json={"decision": decision, "basis": "verbal"})
    assert consent.status_code == 201, consent.text
    before = await settled(client, services, resident)
    problem = assert_problem(await read_as(client, resident, DN, min_seq=consent.json()["seq"]), 403)
    assert problem["type"].endswith("no-legitimate-relationship")
    assert await audited(services) == before
    # Staff still see it (audited), and a team cannot get round it with history.
    assert (await client.get(f"/residents/{resident}")).json()["consent"]["decision"] == decision
    assert await audited(services) == before + 1
    assert_problem(await read_as(client, resident, DN, as_of="2999-01-01T00:00:00Z"), 403)
    assert await audited(services) == before + 1


@pytest.mark.parametrize("decision", ["refused", "withdrawn"])
async def test_a_team_shut_out_by_consent_cannot_read_the_record_as_it_was_before(
        client: httpx.AsyncClient, services: Services, decision: str) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident)
    consent = await client.post(f"/residents/{resident}/consent", json={"decision": decision})
    assert consent.status_code == 201, consent.text
    before = await settled(client, services, resident)
    referred, refused = (await services.store.read_resident(resident))[-2:]
    assert referred.envelope.occurred_at < refused.envelope.occurred_at
    earlier = referred.envelope.occurred_at.isoformat()  # referred, consent not yet refused
    assert (await client.get(f"/residents/{resident}", params={"as_of": earlier})).json()["consent"] is None
    before += 1  # that staff read is audited
    assert_problem(await read_as(client, resident, DN, as_of=earlier), 403)
    assert await audited(services) == before


async def test_consent_granted_again_lets_the_team_back_in(client: httpx.AsyncClient) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident)
    await client.post(f"/residents/{resident}/consent", json={"decision": "refused"})
    granted = await client.post(f"/residents/{resident}/consent", json={"decision": "granted"})
    assert (await read_as(client, resident, DN, min_seq=granted.json()["seq"])).status_code == 200


async def test_a_consent_scoped_to_other_organisations_shuts_the_team_out(client: httpx.AsyncClient,
                                                                          services: Services) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident)  # dn-central: an NHS community team
    await refer(client, resident, to_team="asc-central", need="personal care")  # the council's adult social care
    await refer(client, resident, to_team="ageuk-central", need="social isolation")  # a voluntary organisation
    consent = await client.post(f"/residents/{resident}/consent",
                                json={"decision": "granted", "scope": ["council", "ageuk-central"]})
    assert consent.status_code == 201, consent.text
    seq = consent.json()["seq"]
    before = await settled(client, services, resident)
    assert_problem(await read_as(client, resident, DN, min_seq=seq), 403)
    assert await audited(services) == before
    assert (await read_as(client, resident, auth("team", "asc-central"), min_seq=seq)).status_code == 200
    assert (await read_as(client, resident, auth("team", "ageuk-central"), min_seq=seq)).status_code == 200
    assert await audited(services) == before + 2


async def test_a_consent_scoped_to_an_organisation_by_its_directory_name(client: httpx.AsyncClient) -> None:
    directory = {t["id"]: t for t in (await client.get("/teams")).json()["teams"]}
    council = directory["asc-central"]["organisation"]
    assert directory["dn-central"]["organisation"] != council
    resident = (await register(client))["resident_id"]
    await refer(client, resident)
    await refer(client, resident, to_team="asc-central", need="personal care")
    consent = await client.post(f"/residents/{resident}/consent", json={"decision": "granted", "scope": [council]})
    assert consent.status_code == 201, consent.text
    seq = consent.json()["seq"]
    assert (await read_as(client, resident, auth("team", "asc-central"), min_seq=seq)).status_code == 200
    assert_problem(await read_as(client, resident, DN, min_seq=seq), 403)


async def test_an_analyst_cannot_read_any_record(client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident)
    before = await settled(client, services, resident)
    analyst = auth("analyst", sub="analyst-1")
    assert_problem(await read_as(client, resident, analyst), 403)
    assert_problem(await read_as(client, resident, analyst, as_of="2999-01-01T00:00:00Z"), 403)
    assert_problem(await client.get("/residents", params={"q": "Lovelace"}, headers=analyst), 403)
    assert await audited(services) == before


async def test_each_successful_read_audits_once_and_each_failed_read_not_at_all(client: httpx.AsyncClient,
                                                                                services: Services) -> None:
    resident = (await register(client))["resident_id"]
    made = await refer(client, resident)
    base = await settled(client, services, resident)
    reads = [
        await client.get(f"/residents/{resident}"),
        await client.get(f"/residents/{resident}", params={"min_seq": made["seq"]}),
        await read_as(client, resident, DN),
        await read_as(client, resident, auth("coordinator")),
        await read_as(client, resident, auth("admin")),
        await client.get(f"/residents/{resident}", params={"as_of": "2999-01-01T00:00:00+00:00"}),
        await client.get("/residents", params={"q": "Lovelace"}),
        await client.get("/residents", params={"q": "Lovelace"}, headers=DN),
        await client.get("/teams/dn-central/caseload", headers=DN),
    ]
    assert [r.status_code for r in reads] == [200] * len(reads)
    assert await audited(services) == base + len(reads)
    services.settings.read_wait_s = 0.2
    failed = [
        await read_as(client, resident, OT),  # no work with the resident
        await client.get("/residents/01890000-0000-7000-8000-000000000000"),  # nobody
        await client.get(f"/residents/{resident}", params={"as_of": "2000-01-01T00:00:00Z"}),  # not yet registered
        await client.get(f"/residents/{resident}", params={"as_of": "2026-01-01T00:00:00"}),  # no time zone
        await client.get(f"/residents/{resident}", params={"min_seq": made["seq"] + 1000}),  # past the stream: 422
        await client.get(f"/residents/{resident}", headers={"Authorization": "Bearer forged"}),
        await client.get("/residents", params={"q": "Lovelace"}, headers=auth("analyst")),
        await client.get("/teams/dn-central/caseload", headers=OT),
    ]
    assert [r.status_code for r in failed] == [403, 404, 404, 422, 422, 401, 403, 403]
    assert await audited(services) == base + len(reads)


async def test_team_search_returns_only_residents_that_team_may_see(client: httpx.AsyncClient,
                                                                    services: Services) -> None:
    same = {"family_name": "Hopper", "nhs_number": None}
    ours = (await register(client, given_name="Grace", **same))["resident_id"]
    theirs = (await register(client, given_name="Gertrude", **same))["resident_id"]
    refused = (await register(client, given_name="Gwen", **same))["resident_id"]
    (await register(client, given_name="Gail", **same))["resident_id"]  # nobody's work
    await refer(client, ours)
    await refer(client, theirs, to_team="ot-central")
    await refer(client, refused)
    await client.post(f"/residents/{refused}/consent", json={"decision": "refused"})
    await settled(client, services, ours)

    def ids(response: httpx.Response) -> set[str]:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["results"])
        return {r["resident_id"] for r in body["results"]}

    assert ids(await client.get("/residents", params={"q": "Hopper"}, headers=DN)) == {ours}
    assert ids(await client.get("/residents", params={"q": "Hopper"}, headers=OT)) == {theirs}
    assert ids(await client.get("/residents", params={"q": "Hopper"}, headers=auth("team", "housing-central"))) == set()
    assert len(ids(await client.get("/residents", params={"q": "Hopper"}))) == 4
    assert ids(await client.get("/residents", params={"q": RESIDENT["postcode"]}, headers=DN)) == {ours}
