"""1,000 concurrent conflicting commands on 50 shared referrals, spread over three API processes (this one and two
`frontdoor serve` children) against one NATS and one database: for each referral exactly one legal life cycle
wins, every loser is told so (409, or 403 when its team no longer holds the work) and never gets a 5xx, the
stream holds exactly the winners, and the views agree with the stream."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from events.catalogue import ReferralAccepted, ReferralHandedOff, ReferralMade, ReferralWithdrawn
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from projections.tables import referrals as referrals_table
from tests.integration.conftest import auth
from tests.integration.serve_processes import http_clients, serve_processes, tail, wait_healthy

REFERRALS = 50
COMMANDS_EACH = 20
IN_FLIGHT = 48  # commands outstanding at once, over all three processes
HOME, NEXT = "dn-central", "ot-central"

# What each command is: (action, acting team or None for the front door, body).
Command = tuple[str, str | None, dict[str, Any]]
ACCEPT_HOME: Command = ("accept", HOME, {})
ACCEPT_NEXT: Command = ("accept", NEXT, {})
WITHDRAW: Command = ("withdraw", None, {"reason": "no longer needed"})
HANDOFF: Command = ("handoff", HOME, {"to_team": NEXT, "reason": "needs an OT"})
# Even referrals race accept against withdraw (and the rest); odd ones have no withdraw, so exactly one home
# accept must win there whatever the interleaving.
MIX_WITH_WITHDRAW = [ACCEPT_HOME] * 6 + [WITHDRAW] * 5 + [HANDOFF] * 5 + [ACCEPT_NEXT] * 4
MIX_WITHOUT_WITHDRAW = [ACCEPT_HOME] * 7 + [HANDOFF] * 7 + [ACCEPT_NEXT] * 6
assert len(MIX_WITH_WITHDRAW) == len(MIX_WITHOUT_WITHDRAW) == COMMANDS_EACH


@dataclass(frozen=True)
class Answer:
    referral_id: str
    command: tuple[str, str | None, dict[str, Any]]
    process: int
    status: int
    body: dict[str, Any]


GIVEN = ("Alma", "Bram", "Cleo", "Dov", "Esme", "Fitz", "Gus", "Hedy", "Ivo", "Juno")
FAMILY = ("Quill", "Rourke", "Sayer", "Thorne", "Underwood")


def distinct_person(n: int) -> dict[str, Any]:
    """Fifty people nobody could take for one another (no possible-duplicate flags join the race)."""
    return {"given_name": GIVEN[n % 10], "family_name": f"{FAMILY[n // 10]}-{'xyzw'[n % 4]}{n}",
            "date_of_birth": f"{1930 + n}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "postcode": f"SO{10 + n % 40} {1 + n % 9}{'ABDEFGHJL'[n % 9]}{'NPQRSTUWX'[n // 9 % 9]}"}


def legal_life(events: list[Any]) -> list[str]:
    """Replays a referral's events through the life cycle; fails on any step that was not allowed then.
    Returns the steps as (event, team holding it)."""
    assert isinstance(events[0], ReferralMade) and events[0].to_team == HOME
    status, holder, steps = "made", HOME, ["made"]
    for event in events[1:]:
        if isinstance(event, ReferralAccepted):
            assert status == "made" and event.team == holder, (steps, event)
            status = "accepted"
        elif isinstance(event, ReferralHandedOff):
            assert status == "accepted" and event.from_team == holder == HOME and event.to_team == NEXT, (steps, event)
            status, holder = "made", NEXT
        elif isinstance(event, ReferralWithdrawn):
            assert status in ("made", "accepted"), (steps, event)
            status = "withdrawn"
        else:
            raise AssertionError(f"unexpected {type(event).__name__} after {steps}")
        steps.append(type(event).__name__)
    return steps


async def test_a_thousand_concurrent_conflicting_commands_over_three_processes(
        client: httpx.AsyncClient, services: Services, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    # Fifty residents, one referral each to the home team (one per resident, so every conflict is a real one).
    made: dict[str, tuple[str, int]] = {}  # referral -> (resident, seq)
    for n in range(REFERRALS):
        reg = await client.post("/residents", json=distinct_person(n))
        assert reg.status_code == 201, reg.text
        resident = reg.json()["resident_id"]
        ref = await client.post(f"/residents/{resident}/referrals",
                                json={"to_team": HOME, "need": "mobility and falls", "urgency": "soon"})
        assert ref.status_code == 201, ref.text
        made[ref.json()["referral_id"]] = (resident, ref.json()["seq"])
    ready = await client.get("/teams/dn-central/caseload", params={"min_seq": await services.store.last_seq()})
    assert ready.status_code == 200 and ready.json()["open"] == REFERRALS
    before = await services.store.count()

    chance = random.Random(4_2026)
    plan: list[tuple[str, tuple[str, str | None, dict[str, Any]]]] = []
    for i, referral_id in enumerate(made):
        mix = MIX_WITH_WITHDRAW if i % 2 == 0 else MIX_WITHOUT_WITHDRAW
        plan += [(referral_id, command) for command in mix]
    chance.shuffle(plan)
    assert len(plan) == REFERRALS * COMMANDS_EACH == 1000

    with serve_processes(2, nats_server.url, tmp_path) as children:
        async with http_clients([port for _, port in children]) as remote:
            for n, ((process, _), http) in enumerate(zip(children, remote, strict=True)):
                await wait_healthy(http, process, tmp_path / f"serve-{n}.log")
            clients = [client, *remote]
            slots = asyncio.Semaphore(IN_FLIGHT)

            async def send(index: int, referral_id: str, command: tuple[str, str | None, dict[str, Any]]) -> Answer:
                action, team, body = command
                process = index % len(clients)
                headers = auth("team", team, sub=f"{team}-worker-{index}") if team else {}
                async with slots:
                    response = await clients[process].post(f"/referrals/{referral_id}/{action}", json=body,
                                                            headers=headers)
                return Answer(referral_id, command, process, response.status_code, response.json())

            answers = await asyncio.gather(*(send(i, rid, cmd) for i, (rid, cmd) in enumerate(plan)))

            # Nothing broke: every answer is a win (200) or a refusal that says why (409, or 403).
            codes = Counter(a.status for a in answers)
            broken = [a for a in answers if a.status not in (200, 403, 409)]
            assert not broken, (codes, broken[:5])
            for a in answers:
                if a.status != 200:
                    assert a.body["detail"] and a.body["status"] == a.status, a
            assert {a.process for a in answers if a.status == 200} == {0, 1, 2}, "every process must win some"

            # The stream holds exactly the winners: one event per 200, at the sequence it reported.
            by_referral: dict[str, list[Answer]] = defaultdict(list)
            for a in answers:
                by_referral[a.referral_id].append(a)
            written = 0
            expected_views: dict[str, dict[str, Any]] = {}
            for referral_id, (resident, made_seq) in made.items():
                recorded = await services.store.read_resident(resident)
                steps = [e for e in recorded if getattr(e.event, "referral_id", None) == referral_id]
                assert [e.type for e in recorded[:1]] == ["ResidentRegistered"] and recorded[1:] == steps
                assert steps[0].seq == made_seq
                life = legal_life([e.event for e in steps])
                wins = sorted((a for a in by_referral[referral_id] if a.status == 200), key=lambda a: a.body["seq"])
                assert [a.body["seq"] for a in wins] == [e.seq for e in steps[1:]], referral_id
                kinds = {"ReferralAccepted": "accept", "ReferralHandedOff": "handoff", "ReferralWithdrawn": "withdraw"}
                assert [a.command[0] for a in wins] == [kinds[s] for s in life[1:]], referral_id
                written += len(wins)

                # At most one of each step; a home accept always wins where nothing could withdraw first.
                counts = Counter((a.command[0], a.command[1]) for a in wins)
                assert all(n == 1 for n in counts.values()), (referral_id, counts)
                if WITHDRAW not in [a.command for a in by_referral[referral_id]]:
                    assert counts[("accept", HOME)] == 1, (referral_id, life)
                handed = "ReferralHandedOff" in life
                for a in by_referral[referral_id]:
                    if a.status == 403:  # the team was wrong: the home team only once the work had moved on
                        assert a.command[1] == NEXT or handed, (referral_id, a)
                    if a.status == 409 and a.command == ACCEPT_NEXT:
                        assert handed, (referral_id, a)  # only the holder ever hears about the status

                status = {"ReferralMade": "made", "ReferralAccepted": "accepted", "ReferralHandedOff": "made",
                          "ReferralWithdrawn": "withdrawn"}[type(steps[-1].event).__name__]
                expected_views[referral_id] = {
                    "status": status, "to_team": NEXT if handed else HOME,
                    "history": [{"ReferralMade": "made", "ReferralAccepted": "accepted",
                                 "ReferralHandedOff": "handed_off", "ReferralWithdrawn": "withdrawn"}[
                                     type(e.event).__name__] for e in steps]}
            assert await services.store.count() == before + written
            assert written == codes[200]

            # Every process's view, once caught up, agrees with the stream; so does the caseload table.
            last = await services.store.last_seq()
            for which, http in enumerate(clients):
                for referral_id, (resident, _) in made.items():
                    response = await http.get(f"/residents/{resident}", params={"min_seq": last})
                    assert response.status_code == 200, (which, response.text)
                    doc = response.json()
                    [ref] = [r for r in doc["referrals"] if r["referral_id"] == referral_id]
                    seen = {"status": ref["status"], "to_team": ref["to_team"],
                            "history": [h["step"] for h in ref["history"]]}
                    assert seen == expected_views[referral_id], (which, referral_id)
            async with services.engine.connect() as conn:
                rows = {r.referral_id: r for r in await conn.execute(select(referrals_table))}
            assert set(rows) == set(made)
            for referral_id, expected in expected_views.items():
                row = rows[referral_id]
                assert (row.status, row.to_team, row.handoffs) == (
                    expected["status"], expected["to_team"], expected["history"].count("handed_off")), referral_id
            for n, (process, _) in enumerate(children):
                assert process.poll() is None, tail(tmp_path / f"serve-{n}.log")


@pytest.fixture(autouse=True)
def _bounded(services: Services) -> None:
    services.settings.read_wait_s = 20.0  # three projectors share the work: allow the views time to catch up
