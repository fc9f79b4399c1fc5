"""Use cases of the referral life cycle: refer, and the steps of the team that holds the work (accept, decline,
complete, hand off) or of whoever may withdraw it.

A team token acts as its own team, whatever it claims; staff act for the front door, or for the team that holds
a referral. A team refers only residents it already works with (issue 9).
"""

from __future__ import annotations

from typing import Literal

from frontdoor.application.access import team_guard
from frontdoor.application.answers import Answer
from frontdoor.application.commanding import answer, now
from frontdoor.application.errors import NotAllowed
from frontdoor.application.idempotency import new_id, once
from frontdoor.application.inputs import HandoffBody, OutcomeBody, ReasonBody, ReferralBody
from frontdoor.application.who import Asked, Principal
from frontdoor.application.work import known_team, resident_of
from frontdoor.domain import commands as c
from frontdoor.services import Services

Step = Literal["accept", "decline", "complete", "handoff", "withdraw"]
STATUS_AFTER: dict[str, str] = {"accept": "accepted", "decline": "declined", "complete": "completed",
                                "handoff": "made", "withdraw": "withdrawn"}


def acting_team(who: Principal, claimed: str | None) -> str | None:
    """A team token always acts as its own team; it may not claim to be another."""
    if who.is_team:
        if claimed is not None and claimed != who.team_id:
            raise NotAllowed(f"a {who.team_id} token cannot act for team {claimed}")
        return who.team_id
    return claimed


async def refer(services: Services, who: Principal, asked: Asked, resident_id: str, body: ReferralBody) -> Answer:
    known_team(services, body.to_team, "to_team")
    from_team = acting_team(who, body.from_team)

    async def run() -> Answer:
        referral_id = new_id("referral", who, asked.idempotency)
        command = c.MakeReferral(at=now(), referral_id=referral_id, from_team=from_team, to_team=body.to_team,
                                 need=body.need, urgency=body.urgency, reason=body.reason,
                                 contact_id=str(body.contact_id) if body.contact_id else None)
        return await answer(services, who, asked, resident_id, command, {"referral_id": referral_id}, status=201,
                            guard=team_guard(who, services.teams))

    return await once(services.idempotency, who, asked.idempotency, run)


async def take_step(services: Services, who: Principal, asked: Asked, referral_id: str, step: Step, *,
                    body: ReasonBody | OutcomeBody | HandoffBody | None = None, claimed_team: str | None = None,
                    ) -> Answer:
    if isinstance(body, HandoffBody):
        known_team(services, body.to_team, "to_team")
    team = acting_team(who, claimed_team)

    async def run() -> Answer:
        resident_id = await resident_of(services, "referral", referral_id)
        command = _command(step, referral_id, team, body)
        reply = {"referral_id": referral_id, "status": STATUS_AFTER[step]}
        if isinstance(body, HandoffBody):
            reply["to_team"] = body.to_team
        return await answer(services, who, asked, resident_id, command, reply)

    return await once(services.idempotency, who, asked.idempotency, run)


def _command(step: Step, referral_id: str, team: str | None,
             body: ReasonBody | OutcomeBody | HandoffBody | None) -> c.Command:
    at = now()
    match step, body:
        case "accept", None:
            return c.AcceptReferral(at=at, referral_id=referral_id, by_team=team)
        case "decline", ReasonBody():
            return c.DeclineReferral(at=at, referral_id=referral_id, by_team=team, reason=body.reason)
        case "complete", OutcomeBody():
            return c.CompleteReferral(at=at, referral_id=referral_id, by_team=team, outcome=body.outcome)
        case "handoff", HandoffBody():
            return c.HandOffReferral(at=at, referral_id=referral_id, by_team=team, to_team=body.to_team,
                                     reason=body.reason)
        case "withdraw", ReasonBody():
            return c.WithdrawReferral(at=at, referral_id=referral_id, by_team=team, reason=body.reason)
    raise ValueError(f"{step} does not take {type(body).__name__}")
