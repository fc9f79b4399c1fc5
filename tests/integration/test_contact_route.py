"""The lean contact route (frontdoor.api.contact_route) answers every request exactly as the documented FastAPI
route does: the same requests are sent to the app with it and to the app without it, and the answers compared
(status, content type, body with the new ids and sequences left out). Anything it does not take itself goes on
to the documented route with its body."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import httpx
import pytest

from frontdoor.api.contact_route import ContactRoute
from frontdoor.services import Services
from frontdoor.web import create_web_app
from tests.integration.conftest import CONTACT, RESIDENT, auth

NEW = {"contact_id", "seq"}  # fresh on every write, so not compared


def comparable(response: httpx.Response) -> tuple[int, str, Any]:
    body: Any = response.json() if response.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in NEW}
    return response.status_code, response.headers.get("content-type", ""), body


@pytest.fixture
async def both(services: Services) -> Any:
    lean_app = create_web_app(services)
    assert any(isinstance(r, ContactRoute) for r in lean_app.router.routes), "the lean route is in the app"
    plain_app = create_web_app(services)
    plain_app.router.routes[:] = [r for r in plain_app.router.routes if not isinstance(r, ContactRoute)]
    lean = httpx.AsyncClient(transport=httpx.ASGITransport(app=lean_app), base_url="http://frontdoor",
                             headers=auth("call_handler"))
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app), base_url="http://frontdoor",
                              headers=auth("call_handler"))
    yield lean, plain
    await lean.aclose()
    await plain.aclose()


async def test_every_kind_of_request_gets_the_answer_the_documented_route_gives(both: Any) -> None:
    lean, plain = both
    registered = await lean.post("/residents", json=RESIDENT | {"nhs_number": None})
    rid = registered.json()["resident_id"]
    path = f"/residents/{rid}/contacts"
    unknown = f"/residents/{UUID(int=7)}/contacts"
    body = json.dumps(CONTACT)
    as_json = {"content-type": "application/json"}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("well formed", {"url": path, "content": body, "headers": as_json}),
        ("+json content type", {"url": path, "content": body, "headers": {"content-type": "application/x+json"}}),
        ("upper-case id", {"url": path.upper().replace("/RESIDENTS/", "/residents/").replace(
            "/CONTACTS", "/contacts"), "content": body, "headers": as_json}),
        ("not JSON", {"url": path, "content": b"{not json", "headers": as_json}),
        ("empty body", {"url": path, "content": b"", "headers": as_json}),
        ("no content type", {"url": path, "content": body, "headers": {}}),
        ("text/plain", {"url": path, "content": body, "headers": {"content-type": "text/plain"}}),
        ("a field at fault", {"url": path, "json": CONTACT | {"channel": "pigeon"}}),
        ("a field missing", {"url": path, "json": {k: v for k, v in CONTACT.items() if k != "needs"}}),
        ("an unknown field", {"url": path, "json": CONTACT | {"colour": "blue"}}),
        ("a JSON list", {"url": path, "json": [CONTACT]}),
        ("not a UUID", {"url": "/residents/not-a-uuid/contacts", "json": CONTACT}),
        ("no such resident", {"url": unknown, "json": CONTACT}),
        ("not signed in", {"url": path, "json": CONTACT, "headers": {"authorization": ""}}),
        ("a bad token", {"url": path, "json": CONTACT, "headers": {"authorization": "Bearer nonsense"}}),
        ("a role that may not write", {"url": path, "json": CONTACT, "headers": auth("analyst")}),
        ("a team not involved", {"url": path, "json": CONTACT, "headers": auth("team", "district-nursing-central")}),
        ("a bad Idempotency-Key", {"url": path, "json": CONTACT, "headers": {"idempotency-key": " "}}),
        ("a query string", {"url": path + "?x=1", "json": CONTACT}),
    ]
    for name, request in cases:
        answers = [comparable(await client.post(**request)) for client in (lean, plain)]
        assert answers[0] == answers[1], name


async def test_a_retry_with_the_same_key_is_answered_from_the_first_write_by_either_route(both: Any) -> None:
    lean, plain = both
    rid = (await lean.post("/residents", json=RESIDENT | {"nhs_number": None})).json()["resident_id"]
    headers = {"idempotency-key": "contact-once"}
    first = await lean.post(f"/residents/{rid}/contacts", json=CONTACT, headers=headers)
    again = await plain.post(f"/residents/{rid}/contacts", json=CONTACT, headers=headers)
    lean_again = await lean.post(f"/residents/{rid}/contacts", json=CONTACT, headers=headers)
    assert first.status_code == again.status_code == lean_again.status_code == 201
    assert first.json() == again.json() == lean_again.json()
    assert again.headers.get("idempotent-replayed") == lean_again.headers.get("idempotent-replayed") == "true"
    other = await lean.post(f"/residents/{rid}/contacts", json=CONTACT | {"summary": "else"}, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_the_route_is_still_documented_and_measured_by_its_template(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "post" in schema["paths"]["/residents/{resident_id}/contacts"]
    rid = (await client.post("/residents", json=RESIDENT | {"nhs_number": None})).json()["resident_id"]
    assert (await client.post(f"/residents/{rid}/contacts", json=CONTACT)).status_code == 201
    metrics = (await client.get("/metrics")).text
    assert 'route="/residents/{resident_id}/contacts"' in metrics
    assert f"/residents/{rid}/contacts" not in metrics
