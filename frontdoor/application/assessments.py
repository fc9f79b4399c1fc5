"""Use cases of assessments: start one (as a team, or staff naming the team), complete it with its outcome."""

from __future__ import annotations

from frontdoor.application.access import team_guard
from frontdoor.application.answers import Answer
from frontdoor.application.commanding import answer, now
from frontdoor.application.idempotency import new_id, once
from frontdoor.application.inputs import AssessmentBody, OutcomeBody
from frontdoor.application.referrals import acting_team
from frontdoor.application.who import Asked, Principal
from frontdoor.application.work import known_team, resident_of
from frontdoor.domain import commands as c
from frontdoor.domain.errors import InvalidCommand
from frontdoor.services import Services


async def start_assessment(services: Services, who: Principal, asked: Asked, resident_id: str,
                           body: AssessmentBody) -> Answer:
    team = acting_team(who, body.team)
    if team is None:
        raise InvalidCommand("say which team assesses", field="team")
    known_team(services, team, "team")

    async def run() -> Answer:
        assessment_id = new_id("assessment", who, asked.idempotency)
        command = c.StartAssessment(at=now(), assessment_id=assessment_id, team=team, kind=body.kind)
        return await answer(services, who, asked, resident_id, command, {"assessment_id": assessment_id},
                            status=201, guard=team_guard(who, services.teams))

    return await once(services.idempotency, who, asked.idempotency, run)


async def complete_assessment(services: Services, who: Principal, asked: Asked, assessment_id: str,
                              body: OutcomeBody) -> Answer:
    async def run() -> Answer:
        resident_id = await resident_of(services, "assessment", assessment_id)
        command = c.CompleteAssessment(at=now(), assessment_id=assessment_id, by_team=acting_team(who, None),
                                       outcome=body.outcome)
        return await answer(services, who, asked, resident_id, command,
                            {"assessment_id": assessment_id, "status": "completed"})

    return await once(services.idempotency, who, asked.idempotency, run)
