"""Team systems over NATS: each team's feed on TEAMS holds only what it may see, and teams act on their work by
request-reply on cmd.<team_id>.<command>."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from nats.js.api import ConsumerConfig, DeliverPolicy

from frontdoor.services import Services
from tests.integration.conftest import CONTACT, RESIDENT


async def feed(services: Services, team: str, *, expect: int) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """What team `team` finds on its subjects of the TEAMS stream (waits, bounded, for `expect` messages)."""
    sub = await services.js.subscribe(f"team.{team}.>", stream="TEAMS", ordered_consumer=True,
                                      config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    got: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while len(got) < expect and asyncio.get_running_loop().time() < deadline:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                continue
            got.append((msg.subject, dict(msg.headers or {}), orjson.loads(msg.data)))
        if len(got) == expect:  # and nothing more arrives
            try:
                extra = await sub.next_msg(timeout=0.5)
                got.append((extra.subject, dict(extra.headers or {}), orjson.loads(extra.data)))
            except TimeoutError:
                pass
    finally:
        await sub.unsubscribe()
    return got


async def command(services: Services, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await services.nc.request(subject, orjson.dumps(body), timeout=10)
    answer: dict[str, Any] = orjson.loads(reply.data)
    return answer


async def test_a_team_receives_its_work_and_acts_on_it_over_nats(client: httpx.AsyncClient,
                                                                 services: Services) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    referral = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "ot-central", "need": "mobility and falls", "reason": "two falls"})).json()
    await client.post(f"/residents/{rid}/contacts", json=CONTACT)

    ot = await feed(services, "ot-central", expect=2)
    assert [(s, h["Frontdoor-Type"]) for s, h, _ in ot] == [
        ("team.ot-central.ReferralMade", "ReferralMade"), ("team.ot-central.ContactRecorded", "ContactRecorded")]
    assert ot[0][1]["Nats-Msg-Id"] == f"{referral['seq']}:ot-central"
    assert ot[0][2]["data"]["referral_id"] == referral["referral_id"]
    assert await feed(services, "dn-central", expect=0) == []  # not involved: sees nothing

    accepted = await command(services, "cmd.ot-central.accept", {"referral_id": referral["referral_id"]})
    assert accepted["ok"] is True and accepted["resident_id"] == rid
    view = (await client.get(f"/residents/{rid}", params={"min_seq": accepted["seq"]})).json()
    assert view["referrals"][0]["status"] == "accepted"

    again = await command(services, "cmd.ot-central.accept", {"referral_id": referral["referral_id"]})
    assert again["status"] == 409 and again["type"].endswith("illegal-step")
    other = await command(services, "cmd.dn-central.complete", {"referral_id": referral["referral_id"],
                                                                "outcome": "done"})
    assert other["status"] == 403
    bad = await command(services, "cmd.ot-central.handoff", {"referral_id": referral["referral_id"], "to": "x"})
    assert bad["status"] == 422 and "to" in [e["field"] for e in bad["errors"]]
    missing = await command(services, "cmd.ot-central.decline", {"referral_id": referral["referral_id"]})
    assert missing["status"] == 422 and missing["errors"][0]["field"] == "reason"


async def test_after_consent_is_refused_a_team_gets_only_work_addressed_to_it(client: httpx.AsyncClient,
                                                                             services: Services) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    await client.post(f"/residents/{rid}/referrals", json={"to_team": "ot-central", "need": "mobility and falls",
                                                           "reason": "falls"})
    await client.post(f"/residents/{rid}/consent", json={"decision": "refused", "basis": "verbal"})
    await client.post(f"/residents/{rid}/contacts", json=CONTACT)
    await client.post(f"/residents/{rid}/referrals", json={"to_team": "housing-central", "need": "housing",
                                                           "reason": "damp"})
    ot = await feed(services, "ot-central", expect=1)
    assert [h["Frontdoor-Type"] for _, h, _ in ot] == ["ReferralMade"]
    housing = await feed(services, "housing-central", expect=1)
    assert [h["Frontdoor-Type"] for _, h, _ in housing] == ["ReferralMade"]
