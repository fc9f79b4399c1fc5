"""The referral life cycle over HTTP, step by step, with the teams' own tokens."""

from __future__ import annotations

from typing import Any

import httpx

from frontdoor.services import Services
from tests.integration.conftest import RESIDENT, auth


async def test_refer_accept_hand_off_accept_complete(client: httpx.AsyncClient, services: Services) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    made = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "ot-central", "need": "mobility and falls", "urgency": "urgent", "reason": "falls"})).json()
    ref = made["referral_id"]
    ot, reab = auth("team", "ot-central"), auth("team", "reab-central")

    assert (await client.post(f"/referrals/{ref}/accept", headers=reab)).status_code == 403  # not theirs
    accepted = await client.post(f"/referrals/{ref}/accept", headers=ot)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    handed = await client.post(f"/referrals/{ref}/handoff", headers=ot,
                               json={"to_team": "reab-central", "reason": "needs reablement first"})
    assert handed.status_code == 200 and handed.json()["to_team"] == "reab-central"
    before = await services.store.count()
    early = await client.post(f"/referrals/{ref}/complete", headers=reab, json={"outcome": "done"})
    assert early.status_code == 409 and "made" in early.json()["detail"]  # must accept first
    assert await services.store.count() == before
    await client.post(f"/referrals/{ref}/accept", headers=reab)
    done = await client.post(f"/referrals/{ref}/complete", headers=reab, json={"outcome": "walking with a frame"})
    assert done.status_code == 200

    view: dict[str, Any] = (await client.get(f"/residents/{rid}", params={"min_seq": done.json()["seq"]})).json()
    (referral,) = view["referrals"]
    assert referral["status"] == "completed" and referral["to_team"] == "reab-central"
    assert [h["step"] for h in referral["history"]] == ["made", "accepted", "handed_off", "accepted", "completed"]
    assert view["teams_involved"] == ["ot-central", "reab-central"]
    caseload = (await client.get("/teams/reab-central/caseload", params={"min_seq": done.json()["seq"]})).json()
    assert caseload["referrals"] == []


async def test_decline_and_withdraw_end_the_work_and_then_nothing_more_is_allowed(
        client: httpx.AsyncClient, services: Services) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    made = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "housing-central", "need": "housing", "reason": "damp"})).json()
    first = made["referral_id"]
    second = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "ageuk-central", "need": "social isolation", "reason": "alone"})).json()["referral_id"]
    waiting = (await client.get("/teams/housing-central/caseload", headers=auth("team", "housing-central"),
                                params={"min_seq": made["seq"]})).json()
    assert [r["referral_id"] for r in waiting["referrals"]] == [first] and "days_waiting" in waiting["referrals"][0]
    declined = await client.post(f"/referrals/{first}/decline", headers=auth("team", "housing-central"),
                                 json={"reason": "private landlord: environmental health"})
    assert declined.status_code == 200
    withdrawn = await client.post(f"/referrals/{second}/withdraw", json={"reason": "family visiting now"})
    assert withdrawn.status_code == 200
    before = await services.store.count()
    late = await client.post(f"/referrals/{second}/accept", headers=auth("team", "ageuk-central"))
    assert late.status_code == 409 and "withdrawn" in late.json()["detail"]
    unknown = await client.post(f"/residents/{rid}/referrals", json={"to_team": "nowhere", "need": "housing"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to_team"
    assert await services.store.count() == before
