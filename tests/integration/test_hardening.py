"""Faults and attacks an outside test found in the command path (issue 9), each written down as it was found:
an Idempotency-Key used again elsewhere, teams granting themselves access, an unreadable message that broke a
resident for good, and the smaller ones (405 without Allow, bodies of any size)."""

from __future__ import annotations

import httpx

from events.subjects import resident_subject
from frontdoor.services import Services
from tests.integration.conftest import CONTACT, RESIDENT, auth
from tests.integration.test_http_workflow import assert_problem, refer, register

DN = auth("team", "dn-central", sub="dn-nurse")
OT = auth("team", "ot-central", sub="ot-worker")
ADMIN = auth("admin")


async def test_a_key_used_again_for_another_resident_or_route_is_refused_naming_the_key(
        client: httpx.AsyncClient, services: Services) -> None:
    ada = (await register(client))["resident_id"]
    bob = (await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Bob"})).json()
    key = {"Idempotency-Key": "call-0001"}
    first = await client.post(f"/residents/{ada}/contacts", json=CONTACT, headers=key)
    assert first.status_code == 201
    before = await services.store.count()
    elsewhere = [
        await client.post(f"/residents/{bob['resident_id']}/contacts", json=CONTACT, headers=key),
        await client.post(f"/residents/{ada}/referrals", json={"to_team": "dn-central", "need": "housing"},
                          headers=key),
        await client.post(f"/residents/{ada}/consent", json={"decision": "granted"}, headers=key),
    ]
    for answer in elsewhere:
        problem = assert_problem(answer, 422)
        assert problem["errors"][0]["field"] == "Idempotency-Key" and "call-0001" in problem["detail"]
    assert await services.store.count() == before
    again = await client.post(f"/residents/{ada}/contacts", json=CONTACT, headers=key)
    assert again.status_code == 201 and again.json() == first.json()


async def test_the_same_key_from_two_people_is_two_requests(client: httpx.AsyncClient, services: Services) -> None:
    ada = (await register(client))["resident_id"]
    key = {"Idempotency-Key": "shift-start"}
    one = await client.post(f"/residents/{ada}/contacts", json=CONTACT, headers=key | auth("call_handler", sub="a"))
    two = await client.post(f"/residents/{ada}/contacts", json=CONTACT, headers=key | auth("call_handler", sub="b"))
    assert one.status_code == two.status_code == 201 and one.json()["contact_id"] != two.json()["contact_id"]
    assert two.json()["seq"] > one.json()["seq"]


async def test_a_team_cannot_refer_a_stranger_to_itself_to_open_the_record(client: httpx.AsyncClient,
                                                                           services: Services) -> None:
    resident = (await register(client))["resident_id"]
    before = await services.store.count()
    for attempt in (
        await client.post(f"/residents/{resident}/referrals", headers=DN,
                          json={"to_team": "dn-central", "need": "housing", "reason": "let me in"}),
        await client.post(f"/residents/{resident}/assessments", headers=DN, json={"kind": "OT"}),
    ):
        assert_problem(attempt, 403)
    assert await services.store.count() == before
    assert_problem(await client.get(f"/residents/{resident}", headers=DN), 403)


async def test_a_team_already_involved_may_refer_on(client: httpx.AsyncClient) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident)  # to dn-central
    onward = await client.post(f"/residents/{resident}/referrals", headers=DN,
                               json={"to_team": "ot-central", "need": "mobility and falls", "reason": "stairs"})
    assert onward.status_code == 201, onward.text


async def test_a_team_cannot_tell_which_residents_exist(client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    await refer(client, resident, to_team="ot-central")
    nobody = "01890000-0000-7000-8000-000000000000"
    last = await services.store.last_seq()
    await client.get(f"/residents/{resident}", params={"min_seq": last})
    for path in (f"/residents/{nobody}", f"/residents/{resident}"):
        assert_problem(await client.get(path, headers=DN), 403)
        assert_problem(await client.get(path, headers=DN, params={"as_of": "2030-01-01T00:00:00Z"}), 403)
    # Even a team that may see the record is not told the record did not exist yet: 403, like any refusal.
    assert_problem(await client.get(f"/residents/{resident}", headers=OT, params={"as_of": "2000-01-01T00:00:00Z"}),
                   403)


async def test_a_teams_caseload_leaves_out_residents_who_refused_consent(client: httpx.AsyncClient,
                                                                          services: Services) -> None:
    shared = (await register(client))["resident_id"]
    refused = (await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Bea"})).json()
    await refer(client, shared)
    await refer(client, refused["resident_id"])
    consent = await client.post(f"/residents/{refused['resident_id']}/consent",
                                json={"decision": "refused", "basis": "explicit"})
    caseload = await client.get("/teams/dn-central/caseload", headers=DN, params={"min_seq": consent.json()["seq"]})
    assert {r["resident_id"] for r in caseload.json()["referrals"]} == {shared}
    staff = await client.get("/teams/dn-central/caseload", params={"min_seq": consent.json()["seq"]})
    assert {r["resident_id"] for r in staff.json()["referrals"]} == {shared, refused["resident_id"]}


async def test_an_unreadable_message_is_named_and_can_be_superseded(client: httpx.AsyncClient,
                                                                     services: Services) -> None:
    resident = (await register(client))["resident_id"]
    ack = await services.js.publish(resident_subject(resident), b"{not an event", headers={"Nats-Msg-Id": "junk-1"})
    services.states.forget(resident)  # as another process would meet it: not from this one's memory
    for answer in (await client.post(f"/residents/{resident}/contacts", json=CONTACT),
                   await client.get(f"/residents/{resident}", params={"as_of": "2030-01-01T00:00:00Z"})):
        problem = assert_problem(answer, 409)
        assert problem["seq"] == ack.seq and str(ack.seq) in problem["detail"]
    assert_problem(await client.post(f"/residents/{resident}/events/{ack.seq}/supersede", json={"reason": "junk"}),
                   403)  # a call handler may not
    marked = await client.post(f"/residents/{resident}/events/{ack.seq}/supersede", headers=ADMIN,
                               json={"reason": "a test tool wrote junk"})
    assert marked.status_code == 201, marked.text
    after = await client.post(f"/residents/{resident}/contacts", json=CONTACT)
    assert after.status_code == 201, after.text
    view = await client.get(f"/residents/{resident}", params={"as_of": "2030-01-01T00:00:00Z"})
    assert view.status_code == 200 and len(view.json()["contacts"]) == 1
    other = (await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Cy"})).json()
    assert_problem(await client.post(f"/residents/{other['resident_id']}/events/{ack.seq}/supersede",
                                      headers=ADMIN, json={"reason": "not this one's"}), 404)


async def test_a_method_not_allowed_says_which_are(client: httpx.AsyncClient) -> None:
    answer = await client.put("/flags")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET"
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_body_over_the_limit_is_refused_before_it_is_read(client: httpx.AsyncClient,
                                                                  services: Services) -> None:
    before = await services.store.count()
    big = b'{"given_name": "' + b"A" * 300_000 + b'"}'
    answer = await client.post("/residents", content=big, headers={"content-type": "application/json"})
    assert_problem(answer, 413)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 10_000

    streamed = await client.post("/residents", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413)
    assert await services.store.count() == before
