"""`GET /residents/{id}?as_of=`: the joined-up view as it was at any moment, folded from the stream. Between
every two steps of a referral's life the view as of that moment is exactly the live view taken then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from frontdoor.services import Services
from tests.integration.conftest import CONTACT, RESIDENT, auth
from tests.integration.test_http_workflow import OTHER, assert_problem, referral_of, register

DN = auth("team", "dn-central", sub="dn-nurse")
OT = auth("team", "ot-central", sub="ot-worker")
INDIA = timezone(timedelta(hours=5, minutes=30))


async def as_of(client: httpx.AsyncClient, resident_id: str, at: datetime,
                headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.get(f"/residents/{resident_id}", params={"as_of": at.isoformat()}, headers=headers)


async def live(client: httpx.AsyncClient, resident_id: str, seq: int) -> dict[str, Any]:
    response = await client.get(f"/residents/{resident_id}", params={"min_seq": seq})
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    assert doc["version"] == seq
    return doc


async def test_as_of_each_moment_of_a_referrals_life_is_exactly_the_view_then(client: httpx.AsyncClient,
                                                                             services: Services) -> None:
    snapshots: list[tuple[str, datetime, dict[str, Any]]] = []  # after each step: its name, a moment, the view

    async def took(name: str, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        at = datetime.now(UTC)  # after this step landed, before the next one begins
        snapshots.append((name, at, await live(client, body["resident_id"], body["seq"])))
        return body

    before_anything = datetime.now(UTC)
    resident = (await took("registered", await client.post("/residents", json=RESIDENT)))["resident_id"]
    contact = await took("contact", await client.post(f"/residents/{resident}/contacts", json=CONTACT))
    made = await took("made", await client.post(f"/residents/{resident}/referrals", json={
        "to_team": "dn-central", "need": "mobility and falls", "contact_id": contact["contact_id"],
        "reason": "falls"}))
    rid = made["referral_id"]
    await took("accepted", await client.post(f"/referrals/{rid}/accept", headers=DN))
    await took("handed off", await client.post(f"/referrals/{rid}/handoff", headers=DN,
                                               json={"to_team": "ot-central", "reason": "needs an OT"}))
    await took("accepted again", await client.post(f"/referrals/{rid}/accept", headers=OT))
    await took("completed", await client.post(f"/referrals/{rid}/complete", headers=OT,
                                              json={"outcome": "rails fitted"}))

    # Each moment lies after its step and before the next one (the next command was stamped later).
    events = await services.store.read_resident(resident)
    assert len(events) == len(snapshots)
    for (name, at, _), event, later in zip(snapshots, events, [*events[1:], None], strict=True):
        assert event.envelope.occurred_at <= at, name
        assert later is None or at < later.envelope.occurred_at, name
    assert before_anything < events[0].envelope.occurred_at

    assert_problem(await as_of(client, resident, before_anything), 404)
    statuses = []
    for name, at, expected in snapshots:
        response = await as_of(client, resident, at)
        assert response.status_code == 200, (name, response.text)
        doc = response.json()
        assert doc.pop("as_of") == at.isoformat(), name
        assert doc == expected, name
        in_india = (await as_of(client, resident, at.astimezone(INDIA))).json()
        in_india.pop("as_of")
        assert in_india == expected, name  # the same instant in another zone
        statuses.append(referral_of(doc, rid)["status"] if doc["referrals"] else None)
    assert statuses == [None, None, "made", "accepted", "made", "accepted", "completed"]

    # Just before each step: the state of the step before.
    for previous, event in zip(snapshots[:-1], events[1:], strict=True):
        just_before = event.envelope.occurred_at - timedelta(microseconds=1)
        doc = (await as_of(client, resident, just_before)).json()
        doc.pop("as_of")
        assert doc == previous[2], previous[0]

    # Now is the live view.
    now = (await as_of(client, resident, datetime.now(UTC))).json()
    now.pop("as_of")
    assert now == snapshots[-1][2]


async def test_as_of_needs_a_time_zone_and_a_registered_resident(client: httpx.AsyncClient,
                                                                 services: Services) -> None:
    resident = (await register(client))["resident_id"]
    audit = (await services.js.stream_info("AUDIT")).state.messages
    naive = await client.get(f"/residents/{resident}", params={"as_of": "2026-11-22T09:00:00"})
    assert "as_of" in [e["field"] for e in assert_problem(naive, 422)["errors"]]
    garbage = await client.get(f"/residents/{resident}", params={"as_of": "last tuesday"})
    assert "as_of" in [e["field"] for e in assert_problem(garbage, 422)["errors"]]
    assert_problem(await client.get(f"/residents/{resident}", params={"as_of": "1999-01-01T00:00:00Z"}), 404)
    nobody = await client.get("/residents/01890000-0000-7000-8000-000000000000",
                              params={"as_of": "2999-01-01T00:00:00Z"})
    assert_problem(nobody, 404)
    assert (await services.js.stream_info("AUDIT")).state.messages == audit


async def test_as_of_a_linked_record_is_the_joined_up_view_then(client: httpx.AsyncClient,
                                                                services: Services) -> None:
    ada = (await register(client))["resident_id"]
    other = (await register(client, **OTHER))["resident_id"]  # nothing alike: no possible-duplicate flag
    await client.post(f"/residents/{other}/contacts", json=CONTACT | {"summary": "carer rang"})
    linked = await client.post(f"/residents/{ada}/links", headers=auth("admin", sub="admin-1"),
                               json={"other_resident_id": other, "evidence": "same person, known by an alias"})
    assert linked.status_code == 201, linked.text
    later = datetime.now(UTC)
    for resident in (ada, other):
        now = (await client.get(f"/residents/{resident}", params={"min_seq": linked.json()["seq"]})).json()
        then = (await as_of(client, resident, later)).json()
        then.pop("as_of")
        assert then["linked_residents"] == now["linked_residents"], resident
        assert then == now, resident
