"""The first slice over HTTP: register, record, read your writes; and every kind of bad input writes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.catalogue import ContactRecorded
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from tests.integration.conftest import CONTACT, RESIDENT, SECRET, auth


async def register(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/residents", json=RESIDENT | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_register_record_a_contact_and_see_it_in_the_joined_up_view(client: httpx.AsyncClient) -> None:
    resident = await register(client)
    contact = await client.post(f"/residents/{resident['resident_id']}/contacts", json=CONTACT)
    assert contact.status_code == 201
    seq = contact.json()["seq"]
    view = await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": seq})
    assert view.status_code == 200
    doc = view.json()
    assert doc["details"]["family_name"] == "Lovelace" and doc["details"]["nhs_number"] == "9434765919"
    assert [c["contact_id"] for c in doc["contacts"]] == [contact.json()["contact_id"]]
    assert doc["contacts"][0]["needs"] == ["mobility and falls"]
    assert doc["version"] == seq


async def test_search_by_nhs_number_name_birth_date_and_postcode(client: httpx.AsyncClient) -> None:
    resident = await register(client)
    await register(client, nhs_number=None, given_name="Charles", family_name="Babbage", date_of_birth="1931-12-26",
                   postcode="SO17 1BJ")
    seq = (await client.post(f"/residents/{resident['resident_id']}/contacts", json=CONTACT)).json()["seq"]
    await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": seq})
    for q in ("9434765919", "943 476 5919", "ada lov", "Lovelace 10/12/1941", "1941-12-10", "SO14 7LY", "so147ly"):
        found = (await client.get("/residents", params={"q": q})).json()["results"]
        assert [r["resident_id"] for r in found] == [resident["resident_id"]], q
    assert (await client.get("/residents", params={"q": "babb"})).json()["count"] == 1


async def test_an_nhs_number_already_taken_is_a_409_naming_the_resident(client: httpx.AsyncClient) -> None:
    first = await register(client)
    again = await client.post("/residents", json=RESIDENT | {"given_name": "Other"})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["resident_id"] == first["resident_id"]


async def test_the_same_idempotency_key_returns_the_first_response_and_writes_once(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = await register(client)
    path = f"/residents/{resident['resident_id']}/contacts"
    first = await client.post(path, json=CONTACT, headers={"Idempotency-Key": "k-1"})
    before = await services.store.count()
    again = await client.post(path, json=CONTACT, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert await services.store.count() == before
    changed = await client.post(path, json=CONTACT | {"summary": "different"}, headers={"Idempotency-Key": "k-1"})
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await services.store.count() == before


async def test_concurrent_retries_of_one_key_write_once(client: httpx.AsyncClient, services: Services) -> None:
    resident = await register(client)
    path = f"/residents/{resident['resident_id']}/contacts"
    answers = await asyncio.gather(*(client.post(path, json=CONTACT, headers={"Idempotency-Key": "same"})
                                     for _ in range(10)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["contact_id"] for a in answers}) == 1
    events = await services.store.read_resident(resident["resident_id"])
    assert [e.type for e in events] == ["ResidentRegistered", "ContactRecorded"]


async def test_200_concurrent_contacts_for_one_resident_each_success_is_in_the_stream_once(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = await register(client)
    path = f"/residents/{resident['resident_id']}/contacts"
    answers = await asyncio.gather(*(client.post(path, json=CONTACT | {"summary": f"call {i}"}) for i in range(200)))
    ok = [a.json()["contact_id"] for a in answers if a.status_code == 201]
    assert all(a.status_code in (201, 409) for a in answers)
    recorded = [e.event.contact_id for e in await services.store.read_resident(resident["resident_id"])
                if isinstance(e.event, ContactRecorded)]
    assert sorted(recorded) == sorted(ok)
    assert len(set(recorded)) == len(recorded)
    assert len(ok) == 200  # one process serialises per resident: no request needs to lose


BAD_REGISTRATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("invalid NHS number", RESIDENT | {"nhs_number": "9434765918"}, "nhs_number"),
    ("birth date in the future", RESIDENT | {"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ("unknown field", RESIDENT | {"favourite_colour": "blue"}, "favourite_colour"),
    ("missing name", {k: v for k, v in RESIDENT.items() if k != "family_name"}, "family_name"),
    ("bad postcode", RESIDENT | {"postcode": "nowhere"}, "postcode"),
]


@pytest.mark.parametrize(("why", "body", "field"), BAD_REGISTRATIONS, ids=[b[0] for b in BAD_REGISTRATIONS])
async def test_bad_registrations_are_422_naming_the_field_and_write_nothing(
        client: httpx.AsyncClient, services: Services, why: str, body: dict[str, Any], field: str) -> None:
    before = await services.store.count()
    response = await client.post("/residents", json=body)
    assert response.status_code == 422, why
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await services.store.count() == before


async def test_malformed_json_is_a_problem_and_writes_nothing(client: httpx.AsyncClient, services: Services) -> None:
    before = await services.store.count()
    response = await client.post("/residents", content=b'{"given_name": "Ada",',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body"
    assert problem["detail"].startswith("body: not valid JSON") and "at position 21" in problem["detail"]
    assert await services.store.count() == before


async def test_bad_contacts_write_nothing(client: httpx.AsyncClient, services: Services) -> None:
    resident = await register(client)
    path = f"/residents/{resident['resident_id']}/contacts"
    before = await services.store.count()
    long = await client.post(path, json=CONTACT | {"summary": "x" * 2001})
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "summary"
    unknown_need = await client.post(path, json=CONTACT | {"needs": ["teleportation"]})
    assert unknown_need.status_code == 422 and unknown_need.json()["errors"][0]["field"].startswith("needs")
    nobody = await client.post("/residents/01890000-0000-7000-8000-000000000000/contacts", json=CONTACT)
    assert nobody.status_code == 404 and nobody.headers["content-type"].startswith("application/problem+json")
    assert await services.store.count() == before


async def test_tokens_and_roles(client: httpx.AsyncClient, services: Services) -> None:
    before = await services.store.count()
    missing = await client.post("/residents", json=RESIDENT, headers={"Authorization": ""})
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("application/problem+json")
    forged = await client.post("/residents", json=RESIDENT, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    analyst = await client.post("/residents", json=RESIDENT, headers=auth("analyst"))
    assert analyst.status_code == 403 and analyst.json()["title"] == "Not allowed"
    assert await services.store.count() == before


async def test_reading_an_unknown_resident_is_404_and_audits_nothing(client: httpx.AsyncClient,
                                                                     services: Services) -> None:
    audit_before = (await services.js.stream_info("AUDIT")).state.messages
    response = await client.get("/residents/01890000-0000-7000-8000-000000000000")
    assert response.status_code == 404
    assert (await services.js.stream_info("AUDIT")).state.messages == audit_before


async def test_each_view_writes_one_audit_event(client: httpx.AsyncClient, services: Services) -> None:
    resident = await register(client)
    await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": resident["seq"]})
    before = (await services.js.stream_info("AUDIT")).state.messages
    await client.get(f"/residents/{resident['resident_id']}", headers={"X-Purpose": "care planning"})
    assert (await services.js.stream_info("AUDIT")).state.messages == before + 1


async def test_a_min_seq_beyond_the_stream_is_refused_at_once(client: httpx.AsyncClient, services: Services) -> None:
    services.settings.read_wait_s = 30  # were it waited for, the test would hang for 30 s
    resident = await register(client)
    response = await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": resident["seq"] + 1000})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "min_seq" and response.json()["last_seq"] == resident["seq"]


async def test_a_min_seq_the_view_has_not_reached_is_a_bounded_503(client: httpx.AsyncClient, nats_server: EmbeddedNats,
                                                                   tmp_path: Path) -> None:
    resident = await register(client)
    # This app's projector has applied the registration, and so announced it (projection.applied.*), before the
    # process below listens: announcements name no database, and that one is not about the process's own.
    assert (await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": resident["seq"]})).is_success
    # A process whose read models nobody applies (its own empty database): the view never reaches the write.
    settings = Settings(nats_url=nats_server.url, database_url=f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}",
                        data_dir=tmp_path / "behind", jwt_secret=SECRET, read_wait_s=0.3)
    behind = await start_services(settings, run_projections=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(behind)),
                                     base_url="http://behind", headers=auth("call_handler")) as http:
            response = await http.get(f"/residents/{resident['resident_id']}", params={"min_seq": resident["seq"]})
    finally:
        await stop_services(behind)
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["min_seq"] == resident["seq"] and response.json()["behind"] == resident["seq"]


async def test_consent_is_recorded_and_shown(client: httpx.AsyncClient) -> None:
    resident = await register(client)
    consent = await client.post(f"/residents/{resident['resident_id']}/consent",
                                json={"decision": "granted", "scope": ["all_partners"], "basis": "verbal"})
    assert consent.status_code == 201
    view = (await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": consent.json()["seq"]})).json()
    assert view["consent"]["decision"] == "granted" and view["consent"]["basis"] == "verbal"


async def test_admins_read_who_viewed_a_record_and_others_cannot(client: httpx.AsyncClient) -> None:
    resident = await register(client)
    rid = resident["resident_id"]
    await client.get(f"/residents/{rid}", params={"min_seq": resident["seq"]}, headers={"X-Purpose": "triage"})
    assert (await client.get(f"/residents/{rid}/audit")).status_code == 403
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        log = (await client.get(f"/residents/{rid}/audit", headers=auth("admin"))).json()
        if log["count"] >= 1:
            break
        assert asyncio.get_running_loop().time() < deadline, log
        await asyncio.sleep(0.05)
    entry = log["entries"][-1]
    assert (entry["viewer"], entry["role"], entry["what"], entry["purpose"]) == ("tester", "call_handler",
                                                                                 "resident", "triage")
