"""The same command over NATS and over HTTP gives the same events (apart from ids and times) and the same problem for
the same bad input: unknown work, the wrong team, the wrong state, a bad body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from frontdoor.services import Services
from tests.integration.conftest import auth
from tests.integration.test_http_workflow import refer, register

NOBODY = "0189fa2e-0000-7000-8000-00000000dead"  # well formed, and nobody's
OT = "ot-central"
IGNORED = {"referral_id", "assessment_id"}  # ids: minted per request


async def nats(services: Services, team: str, command: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await services.nc.request(f"cmd.{team}.{command}", orjson.dumps(body), timeout=15)
    answer: dict[str, Any] = orjson.loads(reply.data)
    return answer


async def http(client: httpx.AsyncClient, team: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    return await client.post(path, json=body, headers=auth("team", team, sub=f"team:{team}"))


async def last_event(services: Services, resident_id: str) -> tuple[str, dict[str, Any], tuple[str, str | None]]:
    # The detector may flag the two look-alike residents meanwhile: its events are not the command's.
    event = [e for e in await services.store.read_resident(resident_id)
             if not e.type.startswith("Duplication")][-1].envelope
    data = {k: v for k, v in event.data.items() if k not in IGNORED}
    return event.type, data, (event.actor.role, event.actor.team_id)


async def fresh_referral(client: httpx.AsyncClient) -> tuple[str, str]:
    resident = (await register(client, nhs_number=None))["resident_id"]
    made = await refer(client, resident, to_team=OT)
    return resident, made["referral_id"]


async def accepted_referral(client: httpx.AsyncClient) -> tuple[str, str]:
    resident, referral = await fresh_referral(client)
    assert (await http(client, OT, f"/referrals/{referral}/accept", None)).status_code == 200
    return resident, referral


Prepare = Callable[[httpx.AsyncClient], Awaitable[tuple[str, str]]]
STEPS: list[tuple[str, Prepare, str, dict[str, Any]]] = [
    ("accept", fresh_referral, "/referrals/{id}/accept", {}),
    ("decline", fresh_referral, "/referrals/{id}/decline", {"reason": "not ours"}),
    ("complete", accepted_referral, "/referrals/{id}/complete", {"outcome": "walking again"}),
    ("handoff", accepted_referral, "/referrals/{id}/handoff", {"to_team": "dn-central", "reason": "nursing"}),
]


@pytest.mark.parametrize(("command", "prepare", "path", "body"), STEPS, ids=[s[0] for s in STEPS])
async def test_a_referral_step_writes_the_same_event_either_way(client: httpx.AsyncClient, services: Services,
                                                                command: str, prepare: Prepare, path: str,
                                                                body: dict[str, Any]) -> None:
    by_http, http_referral = await prepare(client)
    response = await http(client, OT, path.format(id=http_referral), body or None)
    assert response.status_code == 200, response.text
    by_nats, nats_referral = await prepare(client)
    reply = await nats(services, OT, command, {"referral_id": nats_referral} | body)
    assert reply["ok"] is True, reply
    assert reply["seq"] > 0 and reply["status"] == response.json()["status"]
    assert await last_event(services, by_nats) == await last_event(services, by_http)


async def test_assessments_write_the_same_events_either_way(client: httpx.AsyncClient, services: Services) -> None:
    by_http = (await register(client, nhs_number=None))["resident_id"]
    by_nats = (await register(client, nhs_number=None, given_name="Bea"))["resident_id"]
    for resident in (by_http, by_nats):  # a team assesses only residents it already works with (issue 9)
        made = await client.post(f"/residents/{resident}/referrals", json={"to_team": "ot-central",
                                                                          "need": "mobility and falls"})
        assert made.status_code == 201, made.text
    started = await http(client, OT, f"/residents/{by_http}/assessments", {"kind": "falls"})
    assert started.status_code == 201, started.text
    reply = await nats(services, OT, "start-assessment", {"resident_id": by_nats, "kind": "falls"})
    assert reply["ok"] is True and reply["assessment_id"], reply
    assert await last_event(services, by_nats) == await last_event(services, by_http)

    done = await http(client, OT, f"/assessments/{started.json()['assessment_id']}/complete", {"outcome": "rails"})
    assert done.status_code == 200, done.text
    reply = await nats(services, OT, "complete-assessment", {"assessment_id": reply["assessment_id"],
                                                             "outcome": "rails"})
    assert reply["ok"] is True and reply["status"] == "completed", reply
    assert await last_event(services, by_nats) == await last_event(services, by_http)


def same_problem(response: httpx.Response, reply: dict[str, Any]) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    problem = {k: v for k, v in response.json().items() if k != "instance"}
    assert reply == problem
    return problem


async def test_the_same_bad_input_gets_the_same_problem_either_way(client: httpx.AsyncClient,
                                                                   services: Services) -> None:
    _, referral = await fresh_referral(client)
    cases: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any], int]] = [
        # unknown work
        (OT, "accept", f"/referrals/{NOBODY}/accept", None, {"referral_id": NOBODY}, 404),
        (OT, "complete-assessment", f"/assessments/{NOBODY}/complete", {"outcome": "x"},
         {"assessment_id": NOBODY, "outcome": "x"}, 404),
        # not an id at all
        (OT, "accept", "/referrals/no-such-referral/accept", None, {"referral_id": "no-such-referral"}, 422),
        # the wrong team
        ("dn-central", "accept", f"/referrals/{referral}/accept", None, {"referral_id": referral}, 403),
        # the wrong state: completing what was never accepted
        (OT, "complete", f"/referrals/{referral}/complete", {"outcome": "done"},
         {"referral_id": referral, "outcome": "done"}, 409),
        # bad bodies
        (OT, "decline", f"/referrals/{referral}/decline", {}, {"referral_id": referral}, 422),
        (OT, "decline", f"/referrals/{referral}/decline", {"reason": ""}, {"referral_id": referral, "reason": ""},
         422),
        (OT, "handoff", f"/referrals/{referral}/handoff", {"to_team": "nowhere", "reason": "r"},
         {"referral_id": referral, "to_team": "nowhere", "reason": "r"}, 422),
    ]
    for team, command, path, http_body, nats_body, status in cases:
        response = await http(client, team, path, http_body)
        assert response.status_code == status, (command, response.text)
        problem = same_problem(response, await nats(services, team, command, nats_body))
        assert problem["status"] == status
    # and after all that, the referral is still only made
    again = await nats(services, OT, "accept", {"referral_id": referral})
    assert again["ok"] is True
