"""People at risk (DESIGN §9, Dorset): on a demo city with residents injected at known risk, they rank above
everyone else with the reasons that ranked them, in the live list for coordinators and in the analyst table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
from nats.js import JetStreamContext

from events.catalogue import Caller
from events.envelope import Actor
from events.subjects import AUDIT_STREAM
from frontdoor.domain import commands as c
from frontdoor.handling import Context
from frontdoor.services import Services
from projections.analyst.pseudonyms import Pseudonyms
from tests.integration.analyst_city import caught_up, city, parquet_rows
from tests.integration.conftest import auth
from tests.integration.test_analyst_replay import KEY, export_parquet

HANDLER = Actor(id="ch-risk", role="call_handler")


def _team(team: str) -> Actor:
    return Actor(id=f"worker-{team}", role="team", team_id=team)


async def inject_resident_at_risk(services: Services, n: int) -> str:
    """Falls and safeguarding calls, five calls about housing, a housing referral nobody accepts, a falls
    referral accepted late and passed between three teams: every signal of the score at once."""
    rid = f"0196a000-0000-7000-8000-00000000000{n}"
    start = datetime.now(UTC) - timedelta(days=60)
    steps: list[tuple[c.Command, Actor]] = [(c.RegisterResident(
        at=start, given_name=f"Risky{n}", family_name="Person", date_of_birth=datetime(1936, 3, n + 1).date(),
        postcode="SO14 3AB", cluster="central"), HANDLER)]

    def call(day: int, need: str, safeguarding: bool = False) -> None:
        contact = c.RecordContact(at=start + timedelta(days=day, minutes=len(steps)), contact_id=f"{rid}-c{len(steps)}",
                                  channel="phone", caller=Caller(relationship="daughter"), needs=[need],
                                  urgency="soon", safeguarding=safeguarding, summary="", outcome="advice")
        steps.append((contact, HANDLER))

    for day in (1, 2, 3):
        call(day, "mobility and falls")
        call(day, "safeguarding", safeguarding=True)
    for day in (4, 5, 6, 7, 8):
        call(day, "housing")
    falls, housing = f"{rid}-falls", f"{rid}-housing"
    at = start + timedelta(days=9)
    steps += [
        (c.MakeReferral(at=at, referral_id=housing, to_team="housing-central", need="housing", urgency="soon",
                        reason=""), HANDLER),
        (c.MakeReferral(at=at, referral_id=falls, to_team="ot-central", need="mobility and falls", urgency="soon",
                        reason=""), HANDLER),
        (c.AcceptReferral(at=at + timedelta(days=35), referral_id=falls, by_team="ot-central"), _team("ot-central")),
    ]
    holders = ["ot-central", "reab-central", "ot-central", "dn-central"]
    for k, (now_at, to) in enumerate(pairwise(holders)):
        moment = at + timedelta(days=36 + 2 * k)
        steps += [(c.HandOffReferral(at=moment, referral_id=falls, by_team=now_at, to_team=to, reason=""),
                   _team(now_at)),
                  (c.AcceptReferral(at=moment + timedelta(hours=1), referral_id=falls, by_team=to), _team(to))]
    for command, actor in steps:
        await services.handler.handle(rid, command, Context(actor=actor, correlation_id="risk-test",
                                                            occurred_at=command.at))
    return rid


async def test_residents_at_known_risk_rank_first_with_their_reasons(
        services: Services, client: httpx.AsyncClient, js: JetStreamContext, tmp_path: Path) -> None:
    await city(services, residents=150, seed=34)
    injected = {await inject_resident_at_risk(services, n) for n in (1, 2, 3)}
    await caught_up(services)

    answer = await client.get("/residents/at-risk", params={"cluster": "central", "limit": 500},
                              headers=auth("coordinator"))

    assert answer.status_code == 200, answer.text
    ranked = answer.json()["results"]
    assert {r["resident_id"] for r in ranked[:3]} == injected
    assert ranked[3]["score"] < min(r["score"] for r in ranked[:3])
    assert {r["cluster"] for r in ranked} == {"central"}
    for person in ranked[:3]:
        reasons = " | ".join(person["reasons"])
        for why in ("3 contacts about falls", "3 safeguarding contacts", "5 contacts about housing",
                    "2 referrals waited over 28 days", "3 handoffs between teams", "no care coordinator",
                    "open duplicate-work flag"):
            assert why in reasons, (why, reasons)
    # Paged with an opaque cursor: the pages put together are the whole list.
    pages, cursor = [], None
    while True:
        page = (await client.get("/residents/at-risk", headers=auth("admin"),
                                 params={"cluster": "central", "limit": 7} | ({"cursor": cursor} if cursor else {}))
                ).json()
        pages += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == ranked
    for role, team in (("call_handler", None), ("team", "ot-central"), ("analyst", None)):
        refused = await client.get("/residents/at-risk", headers=auth(role, team))
        assert refused.status_code == 403, role
    bad = await client.get("/residents/at-risk", params={"cursor": "not-a-cursor"}, headers=auth("coordinator"))
    assert bad.status_code == 422
    last = (await js.stream_info(AUDIT_STREAM)).state.last_seq
    seen = [(await js.get_msg(AUDIT_STREAM, s)).data or b"" for s in range(1, last + 1)]
    assert any(b'"what":"at-risk:central:' in m and b'"role":"coordinator"' in m for m in seen)

    await export_parquet(services, tmp_path / "risk")

    table = parquet_rows(tmp_path / "risk")["people_at_risk"]
    pseudonyms = Pseudonyms(KEY)
    assert {row["resident"] for row in table[:3]} == {pseudonyms.of(rid) for rid in injected}
    assert [row["rank"] for row in table[:4]] == [1, 2, 3, 4] and table[3]["score"] < table[2]["score"]
    assert all("3 contacts about falls" in row["reasons"] for row in table[:3])
