"""Ids become subjects, keys and queries: a wildcard or malformed id on any route is a 404 or 422, writes nothing,
and never reaches the stream as a subject (issue 9: `GET /residents/%3E?as_of=` folded the whole city, and
`POST /residents/*/contacts` stored an event on the literal subject `care.*`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from frontdoor.services import Services
from tests.integration.conftest import CONTACT, RESIDENT, auth

BAD_IDS = ["*", "%3E", ">", "a.b", "care.x", "with%20space", "x" * 200, "0189fa2e-0000-7000-8000-00000000000z",
           "%2A", "%2E"]
GOOD = "0189fa2e-0000-7000-8000-000000000000"
ADMIN = auth("admin")
TEAM = auth("team", "dn-central")

# (method, path with {id}, body, headers): every route that takes a resident, referral, assessment, flag or team id
ROUTES: list[tuple[str, str, dict[str, Any] | None, dict[str, str] | None]] = [
    ("GET", "/residents/{id}", None, None),
    ("GET", "/residents/{id}?as_of=2030-01-01T00:00:00Z", None, None),
    ("GET", "/residents/{id}?min_seq=1", None, None),
    ("POST", "/residents/{id}/contacts", CONTACT, None),
    ("POST", "/residents/{id}/consent", {"decision": "granted"}, None),
    ("PATCH", "/residents/{id}", {"postcode": "SO14 7LY"}, None),
    ("GET", "/residents/{id}/audit", None, ADMIN),
    ("POST", "/residents/{id}/events/1/supersede", {"reason": "bad"}, ADMIN),
    ("POST", "/residents/{id}/referrals", {"to_team": "dn-central", "need": "housing"}, None),
    ("POST", "/residents/{id}/assessments", {"kind": "OT", "team": "dn-central"}, None),
    ("PUT", "/residents/{id}/care-coordinator", {"team_id": "dn-central", "worker": "Sam"}, None),
    ("POST", "/residents/{id}/links", {"other_resident_id": GOOD, "evidence": "same"}, ADMIN),
    ("DELETE", "/residents/{id}/links/" + GOOD, {"reason": "not the same"}, ADMIN),
    ("DELETE", "/residents/" + GOOD + "/links/{id}", {"reason": "not the same"}, ADMIN),
    ("POST", "/referrals/{id}/accept", None, TEAM),
    ("POST", "/referrals/{id}/decline", {"reason": "no"}, TEAM),
    ("POST", "/referrals/{id}/complete", {"outcome": "done"}, TEAM),
    ("POST", "/referrals/{id}/handoff", {"to_team": "ot-central", "reason": "theirs"}, TEAM),
    ("POST", "/referrals/{id}/withdraw", {"reason": "not needed"}, None),
    ("POST", "/assessments/{id}/complete", {"outcome": "done"}, None),
    ("POST", "/flags/{id}/resolve", {"resolution": "not_a_duplicate"}, auth("coordinator")),
    ("GET", "/flags?resident_id={id}", None, None),
    ("GET", "/flags?team={id}", None, None),
    ("GET", "/teams/{id}/caseload", None, None),
]


async def _subjects(services: Services) -> set[str]:
    info = await services.js.stream_info("CARE", subjects_filter=">")
    return set((info.state.subjects or {}).keys())


@pytest.mark.parametrize(("method", "path", "body", "headers"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_a_malformed_id_is_refused_and_writes_nothing(client: httpx.AsyncClient, services: Services,
                                                            method: str, path: str, body: dict[str, Any] | None,
                                                            headers: dict[str, str] | None) -> None:
    registered = (await client.post("/residents", json=RESIDENT)).json()  # a city of one, for a wildcard to find
    before = await services.store.count()
    for bad in BAD_IDS:
        response = await client.request(method, path.replace("{id}", bad), json=body, headers=headers)
        assert response.status_code in (404, 422), (bad, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await services.store.count() == before
    assert await _subjects(services) == {f"care.{registered['resident_id']}"}


async def test_a_team_command_with_a_malformed_referral_id_is_refused(services: Services) -> None:
    before = await services.store.count()
    for bad in ("*", ">", "a.b", "x" * 200):
        reply = await services.nc.request("cmd.dn-central.accept", f'{{"referral_id": "{bad}"}}'.encode(), timeout=5)
        problem = httpx.Response(200, content=reply.data).json()
        assert problem["status"] == 422 and problem["errors"][0]["field"] == "referral_id"
    assert await services.store.count() == before
