"""The care workflow over HTTP against real NATS and SQL: a referral's whole life (refer, accept, hand off,
accept, complete) as the view and the caseloads show it; illegal steps and the wrong team write nothing;
assessments, the one care coordinator, and linked records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from events.catalogue import (
    CareCoordinatorAssigned,
    Event,
    ReferralAccepted,
    ReferralHandedOff,
    ReferralMade,
    ResidentRegistered,
)
from events.codec import wrap
from events.envelope import Actor
from events.ids import uuid7
from frontdoor.services import Services
from tests.integration.conftest import CONTACT, RESIDENT, auth

PROBLEM = "application/problem+json"
OTHER: dict[str, Any] = {"given_name": "Charles", "family_name": "Babbage", "date_of_birth": "1931-12-26",
                         "postcode": "SO17 1BJ", "nhs_number": None}


async def register(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/residents", json=RESIDENT | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def refer(client: httpx.AsyncClient, resident_id: str, to_team: str = "dn-central",
                need: str = "mobility and falls", **extra: Any) -> dict[str, Any]:
    body = {"to_team": to_team, "need": need, "urgency": "soon", "reason": "two falls this week"} | extra
    response = await client.post(f"/residents/{resident_id}/referrals", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    assert made["resident_id"] == resident_id and made["seq"] >= 1
    return made


async def step(client: httpx.AsyncClient, referral_id: str, action: str, team: str | None,
               body: dict[str, Any] | None = None, expect: int = 200) -> dict[str, Any]:
    headers = auth("team", team, sub=f"worker-{team}") if team else {}
    response = await client.post(f"/referrals/{referral_id}/{action}", json=body or {}, headers=headers)
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def view_at(client: httpx.AsyncClient, resident_id: str, seq: int) -> dict[str, Any]:
    response = await client.get(f"/residents/{resident_id}", params={"min_seq": seq})
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def referral_of(doc: dict[str, Any], referral_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in doc["referrals"] if r["referral_id"] == referral_id]
    assert len(found) == 1, doc["referrals"]
    return found[0]


async def caseload(client: httpx.AsyncClient, team: str, seq: int) -> dict[str, Any]:
    response = await client.get(f"/teams/{team}/caseload", params={"min_seq": seq},
                                headers=auth("team", team, sub=f"worker-{team}"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def open_referral(work: dict[str, Any], referral_id: str) -> dict[str, Any] | None:
    found = [r for r in work["referrals"] if r["referral_id"] == referral_id]
    assert len(found) <= 1
    return found[0] if found else None


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_a_referral_from_made_through_a_handoff_to_completed(client: httpx.AsyncClient,
                                                                    services: Services) -> None:
    resident = (await register(client))["resident_id"]
    made = await refer(client, resident)
    rid = made["referral_id"]

    doc = await view_at(client, resident, made["seq"])
    assert doc["version"] == made["seq"]
    ref = referral_of(doc, rid)
    assert (ref["status"], ref["to_team"], ref["need"]) == ("made", "dn-central", "mobility and falls")
    assert [h["step"] for h in ref["history"]] == ["made"]
    assert doc["teams_involved"] == ["dn-central"]
    waiting = open_referral(await caseload(client, "dn-central", made["seq"]), rid)
    assert waiting is not None and waiting["status"] == "made" and waiting["resident_id"] == resident
    assert waiting["days_waiting"] == 0 and waiting["urgency"] == "soon"

    accepted = await step(client, rid, "accept", "dn-central")
    assert accepted["status"] == "accepted" and accepted["seq"] > made["seq"]
    ref = referral_of(await view_at(client, resident, accepted["seq"]), rid)
    assert ref["status"] == "accepted"
    assert [(h["step"], h["team"]) for h in ref["history"]] == [("made", "dn-central"), ("accepted", "dn-central")]
    assert ref["history"][-1]["by"] == "worker-dn-central"
    work = open_referral(await caseload(client, "dn-central", accepted["seq"]), rid)
    assert work is not None and work["status"] == "accepted"  # accepted work is still open work

    handed = await step(client, rid, "handoff", "dn-central", {"to_team": "ot-central", "reason": "needs an OT"})
    assert handed["seq"] > accepted["seq"]
    doc = await view_at(client, resident, handed["seq"])
    ref = referral_of(doc, rid)
    assert (ref["status"], ref["to_team"]) == ("made", "ot-central")
    assert ref["history"][-1] | {"at": None} == {"step": "handed_off", "team": "dn-central", "to_team": "ot-central",
                                                 "by": "worker-dn-central", "note": "needs an OT", "at": None}
    assert doc["teams_involved"] == ["dn-central", "ot-central"]
    assert open_referral(await caseload(client, "dn-central", handed["seq"]), rid) is None
    arrived = open_referral(await caseload(client, "ot-central", handed["seq"]), rid)
    assert arrived is not None and arrived["status"] == "made" and arrived["handoffs"] == 1
    assert arrived["days_waiting"] == 0

    # The team that handed it off no longer holds it.
    before = await services.store.count()
    assert_problem(await client.post(f"/referrals/{rid}/complete", json={"outcome": "done"},
                                     headers=auth("team", "dn-central")), 403)
    assert await services.store.count() == before

    again = await step(client, rid, "accept", "ot-central")
    done = await step(client, rid, "complete", "ot-central", {"outcome": "rails fitted; no further falls"})
    assert done["status"] == "completed" and done["seq"] > again["seq"]
    ref = referral_of(await view_at(client, resident, done["seq"]), rid)
    assert ref["status"] == "completed"
    assert [(h["step"], h["team"]) for h in ref["history"]] == [
        ("made", "dn-central"), ("accepted", "dn-central"), ("handed_off", "dn-central"),
        ("accepted", "ot-central"), ("completed", "ot-central")]
    assert ref["history"][-1]["note"] == "rails fitted; no further falls"
    assert open_referral(await caseload(client, "ot-central", done["seq"]), rid) is None

    events = await services.store.read_resident(resident)
    assert [e.type for e in events] == ["ResidentRegistered", "ReferralMade", "ReferralAccepted", "ReferralHandedOff",
                                        "ReferralAccepted", "ReferralCompleted"]
    assert [e.seq for e in events][-1] == done["seq"]


async def test_the_caseload_lists_open_work_only_with_days_waiting(client: httpx.AsyncClient) -> None:
    first = (await register(client))["resident_id"]
    second = (await register(client, **OTHER))["resident_id"]
    a = await refer(client, first, need="mobility and falls", urgency="routine")
    b = await refer(client, second, need="personal care", urgency="urgent")
    c = await refer(client, second, need="mobility and falls")
    await step(client, c["referral_id"], "decline", "dn-central", {"reason": "outside our criteria"})
    d = await refer(client, first, need="long-term condition")
    last = (await client.post(f"/referrals/{d['referral_id']}/withdraw", json={"reason": "no longer needed"}))
    assert last.status_code == 200, last.text
    work = await caseload(client, "dn-central", last.json()["seq"])
    assert [r["referral_id"] for r in work["referrals"]] == [a["referral_id"], b["referral_id"]]  # longest first
    assert work["open"] == 2 and all(r["days_waiting"] == 0 for r in work["referrals"])
    by_urgency = (await client.get("/teams/dn-central/caseload", params={"sort": "urgency"})).json()
    assert [r["referral_id"] for r in by_urgency["referrals"]] == [b["referral_id"], a["referral_id"]]


async def test_days_waiting_counts_from_when_the_work_reached_the_team(client: httpx.AsyncClient,
                                                                        services: Services) -> None:
    """Facts that happened days ago (as a team system or a migration would write them), appended to the real
    stream: the caseload counts whole days since the referral reached its current team."""
    now = datetime.now(UTC)
    resident, old, recent = uuid7(), uuid7(), uuid7()
    history: list[tuple[Event, datetime]] = [
        (ResidentRegistered(given_name="Edith", family_name="Clarke", date_of_birth=date(1938, 2, 10),
                            postcode="SO15 2AB"), now - timedelta(days=12)),
        (ReferralMade(referral_id=old, to_team="dn-central", need="personal care"), now - timedelta(days=10)),
        (ReferralAccepted(referral_id=old, team="dn-central"), now - timedelta(days=9)),
        (ReferralHandedOff(referral_id=old, from_team="dn-central", to_team="ot-central", reason="OT"),
         now - timedelta(days=2, hours=1)),
        (ReferralMade(referral_id=recent, to_team="ot-central", need="mobility and falls"),
         now - timedelta(days=3, hours=1)),
    ]
    actor = Actor(id="migration", role="admin")
    envelopes = [wrap(event, event_id=uuid7(), resident_id=resident, actor=actor, occurred_at=at, correlation_id="m")
                 for event, at in history]
    seq = (await services.store.append(resident, envelopes, expected_seq=0)).seq
    work = await caseload(client, "ot-central", seq)
    waiting = {r["referral_id"]: r["days_waiting"] for r in work["referrals"]}
    assert waiting == {recent: 3, old: 2}
    assert [r["referral_id"] for r in work["referrals"]] == [recent, old]  # longest waiting first
    by_made = (await client.get("/teams/ot-central/caseload", params={"sort": "made_at"})).json()
    assert [r["referral_id"] for r in by_made["referrals"]] == [old, recent]
    assert (await caseload(client, "dn-central", seq))["referrals"] == []


async def test_a_second_open_referral_to_the_same_team_for_the_same_need_is_a_409_naming_the_first(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    first = (await refer(client, resident))["referral_id"]
    before = await services.store.count()
    again = await client.post(f"/residents/{resident}/referrals",
                              json={"to_team": "dn-central", "need": "mobility and falls"})
    assert assert_problem(again, 409)["referral_id"] == first
    assert await services.store.count() == before
    other_need = await refer(client, resident, need="personal care")  # another need is new work
    assert other_need["referral_id"] != first


async def test_accepting_a_withdrawn_referral_is_a_409_that_says_why_and_writes_nothing(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    rid = (await refer(client, resident))["referral_id"]
    withdrawn = await client.post(f"/referrals/{rid}/withdraw", json={"reason": "moved away"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    before = await services.store.count()
    problem = assert_problem(await client.post(f"/referrals/{rid}/accept", headers=auth("team", "dn-central")), 409)
    assert "withdrawn" in problem["detail"] and rid in problem["detail"]
    assert problem["current_status"] == "withdrawn"
    assert await services.store.count() == before
    ref = referral_of(await view_at(client, resident, withdrawn.json()["seq"]), rid)
    assert ref["status"] == "withdrawn" and [h["step"] for h in ref["history"]] == ["made", "withdrawn"]


async def test_completing_a_referral_never_accepted_is_a_409_and_writes_nothing(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    rid = (await refer(client, resident))["referral_id"]
    before = await services.store.count()
    problem = assert_problem(await client.post(f"/referrals/{rid}/complete", json={"outcome": "sorted"},
                                               headers=auth("team", "dn-central")), 409)
    assert "cannot complete" in problem["detail"] and problem["current_status"] == "made"
    handoff = assert_problem(await client.post(f"/referrals/{rid}/handoff", json={"to_team": "ot-central",
                                                                                  "reason": "ot"},
                                               headers=auth("team", "dn-central")), 409)
    assert "cannot hand off" in handoff["detail"]
    assert await services.store.count() == before


async def test_a_declined_referral_cannot_be_accepted_or_declined_again(client: httpx.AsyncClient,
                                                                        services: Services) -> None:
    resident = (await register(client))["resident_id"]
    rid = (await refer(client, resident))["referral_id"]
    await step(client, rid, "decline", "dn-central", {"reason": "no capacity"})
    before = await services.store.count()
    for action, body in (("accept", {}), ("decline", {"reason": "again"}), ("complete", {"outcome": "x"})):
        problem = await step(client, rid, action, "dn-central", body, expect=409)
        assert problem["current_status"] == "declined", action
    assert await services.store.count() == before


async def test_a_team_acting_on_another_teams_referral_is_403_and_writes_nothing(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    rid = (await refer(client, resident))["referral_id"]
    before = await services.store.count()
    wrong = auth("team", "ot-central")
    for action, body in (("accept", {}), ("decline", {"reason": "no"}), ("complete", {"outcome": "done"}),
                         ("handoff", {"to_team": "asc-central", "reason": "theirs"}),
                         ("withdraw", {"reason": "not ours"})):
        problem = assert_problem(await client.post(f"/referrals/{rid}/{action}", json=body, headers=wrong), 403)
        assert "dn-central" in problem["detail"] or "ot-central" in problem["detail"], action
    claimed = await client.post(f"/referrals/{rid}/accept", params={"team": "dn-central"}, headers=wrong)
    assert_problem(claimed, 403)
    assert await services.store.count() == before
    assert_problem(await client.get("/teams/dn-central/caseload", headers=wrong), 403)
    doc = await view_at(client, resident, await services.store.last_seq())
    assert referral_of(doc, rid)["status"] == "made"


async def test_an_unknown_team_is_a_422_naming_to_team_and_writes_nothing(client: httpx.AsyncClient,
                                                                          services: Services) -> None:
    resident = (await register(client))["resident_id"]
    rid = (await refer(client, resident))["referral_id"]
    await step(client, rid, "accept", "dn-central")
    before = await services.store.count()
    referral = await client.post(f"/residents/{resident}/referrals",
                                 json={"to_team": "no-such-team", "need": "housing"})
    assert "to_team" in [e["field"] for e in assert_problem(referral, 422)["errors"]]
    handoff = await client.post(f"/referrals/{rid}/handoff", json={"to_team": "no-such-team", "reason": "x"},
                                headers=auth("team", "dn-central"))
    assert "to_team" in [e["field"] for e in assert_problem(handoff, 422)["errors"]]
    to_itself = await client.post(f"/referrals/{rid}/handoff", json={"to_team": "dn-central", "reason": "x"},
                                  headers=auth("team", "dn-central"))
    assert "to_team" in [e["field"] for e in assert_problem(to_itself, 422)["errors"]]
    assert await services.store.count() == before


async def test_an_unknown_referral_is_a_404(client: httpx.AsyncClient, services: Services) -> None:
    before = await services.store.count()
    missing = await client.post("/referrals/01890000-0000-7000-8000-000000000000/accept",
                                headers=auth("team", "dn-central"))
    assert_problem(missing, 404)
    assert await services.store.count() == before


async def test_assessments_start_and_complete(client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    started = await client.post(f"/residents/{resident}/assessments", json={"kind": "OT", "team": "ot-central"})
    assert started.status_code == 201, started.text
    aid, seq = started.json()["assessment_id"], started.json()["seq"]
    doc = await view_at(client, resident, seq)
    assert [(a["assessment_id"], a["team"], a["kind"], a["status"]) for a in doc["assessments"]] == [
        (aid, "ot-central", "OT", "started")]
    assert "ot-central" in doc["teams_involved"]
    work = await caseload(client, "ot-central", seq)
    assert [a["assessment_id"] for a in work["assessments"]] == [aid] and work["open"] == 1

    before = await services.store.count()
    assert_problem(await client.post(f"/assessments/{aid}/complete", json={"outcome": "x"},
                                     headers=auth("team", "dn-central")), 403)
    assert await services.store.count() == before

    done = await client.post(f"/assessments/{aid}/complete", json={"outcome": "grab rails and a perching stool"},
                             headers=auth("team", "ot-central"))
    assert done.status_code == 200, done.text
    doc = await view_at(client, resident, done.json()["seq"])
    assert doc["assessments"][0]["status"] == "completed"
    assert doc["assessments"][0]["outcome"] == "grab rails and a perching stool"
    assert (await caseload(client, "ot-central", done.json()["seq"]))["assessments"] == []

    before = await services.store.count()
    twice = await client.post(f"/assessments/{aid}/complete", json={"outcome": "again"},
                              headers=auth("team", "ot-central"))
    assert "already completed" in assert_problem(twice, 409)["detail"]
    assert await services.store.count() == before

    # A team token starts assessments as itself only.
    as_other = await client.post(f"/residents/{resident}/assessments", json={"kind": "falls", "team": "dn-central"},
                                 headers=auth("team", "ot-central"))
    assert_problem(as_other, 403)
    assert await services.store.count() == before


async def test_assigning_a_second_care_coordinator_records_whom_it_replaces(client: httpx.AsyncClient,
                                                                            services: Services) -> None:
    resident = (await register(client))["resident_id"]
    path = f"/residents/{resident}/care-coordinator"
    first = await client.put(path, json={"team_id": "asc-central", "worker": "Sam Carter"})
    assert first.status_code == 200, first.text
    doc = await view_at(client, resident, first.json()["seq"])
    assert doc["care_coordinator"] | {"since": None} == {"team_id": "asc-central", "worker": "Sam Carter",
                                                         "replaces": None, "since": None}
    second = await client.put(path, json={"team_id": "reab-central", "worker": "Jo Hale"})
    assert second.status_code == 200 and second.json()["seq"] > first.json()["seq"]
    doc = await view_at(client, resident, second.json()["seq"])
    assert doc["care_coordinator"] | {"since": None} == {"team_id": "reab-central", "worker": "Jo Hale",
                                                         "replaces": "Sam Carter", "since": None}
    assigned = [e.event for e in await services.store.read_resident(resident)
                if isinstance(e.event, CareCoordinatorAssigned)]
    assert [(a.worker, a.replaces) for a in assigned] == [("Sam Carter", None), ("Jo Hale", "Sam Carter")]

    before = await services.store.count()
    same = await client.put(path, json={"team_id": "reab-central", "worker": "Jo Hale"})
    assert same.status_code == 200  # the same assignment again is not a new fact
    unknown = await client.put(path, json={"team_id": "no-such-team", "worker": "X"})
    assert "team_id" in [e["field"] for e in assert_problem(unknown, 422)["errors"]]
    by_team = await client.put(path, json={"team_id": "asc-central", "worker": "Sam"},
                               headers=auth("team", "asc-central"))
    assert_problem(by_team, 403)
    assert await services.store.count() == before


async def test_linking_two_records_shows_the_union_in_the_view(client: httpx.AsyncClient,
                                                               services: Services) -> None:
    ada = (await register(client))["resident_id"]
    other = (await register(client, given_name="Augusta", nhs_number=None))["resident_id"]
    own = (await client.post(f"/residents/{ada}/contacts", json=CONTACT)).json()
    theirs = (await client.post(f"/residents/{other}/contacts", json=CONTACT | {"summary": "carer rang"})).json()
    rid = (await refer(client, other, to_team="ageuk-central", need="social isolation"))["referral_id"]

    before = await services.store.count()
    refused = await client.post(f"/residents/{ada}/links", json={"other_resident_id": other, "evidence": "same"})
    assert_problem(refused, 403)  # a call handler cannot link records
    missing = await client.post(f"/residents/{ada}/links", headers=auth("admin", sub="admin-1"),
                                json={"other_resident_id": "01890000-0000-7000-8000-000000000000", "evidence": "x"})
    assert_problem(missing, 404)
    itself = await client.post(f"/residents/{ada}/links", headers=auth("admin", sub="admin-1"),
                               json={"other_resident_id": ada, "evidence": "x"})
    assert_problem(itself, 422)
    assert await services.store.count() == before

    linked = await client.post(f"/residents/{ada}/links", headers=auth("admin", sub="admin-1"),
                               json={"other_resident_id": other, "evidence": "same person, name misspelt"})
    assert linked.status_code == 201, linked.text
    doc = await view_at(client, ada, linked.json()["seq"])
    assert doc["linked_residents"] == [other]
    contacts = {c["contact_id"]: c for c in doc["contacts"]}
    assert set(contacts) == {own["contact_id"], theirs["contact_id"]}
    assert "record" not in contacts[own["contact_id"]]
    assert contacts[theirs["contact_id"]]["record"] == other
    assert [(r["referral_id"], r["record"]) for r in doc["referrals"]] == [(rid, other)]
    assert "ageuk-central" in doc["teams_involved"]

    back = await view_at(client, other, linked.json()["seq"])
    assert back["linked_residents"] == [ada]
    assert {c["contact_id"]: c.get("record") for c in back["contacts"]} == {
        theirs["contact_id"]: None, own["contact_id"]: ada}


async def test_a_retried_step_with_the_same_idempotency_key_returns_the_first_answer_and_writes_once(
        client: httpx.AsyncClient, services: Services) -> None:
    resident = (await register(client))["resident_id"]
    rid = (await refer(client, resident))["referral_id"]
    team = auth("team", "dn-central", sub="dn-1") | {"Idempotency-Key": "accept-1"}
    first = await client.post(f"/referrals/{rid}/accept", headers=team)
    assert first.status_code == 200, first.text
    count = await services.store.count()
    again = await client.post(f"/referrals/{rid}/accept", headers=team)
    assert again.status_code == 200 and again.json() == first.json()
    assert await services.store.count() == count
    fresh = await client.post(f"/referrals/{rid}/accept", headers=auth("team", "dn-central", sub="dn-1"))
    assert assert_problem(fresh, 409)["current_status"] == "accepted"  # without the key it is a new request
    assert [e.type for e in await services.store.read_resident(resident)] == [
        "ResidentRegistered", "ReferralMade", "ReferralAccepted"]
