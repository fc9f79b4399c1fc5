"""Use case: assign the one care coordinator."""

from __future__ import annotations

from frontdoor.application.answers import Answer
from frontdoor.application.commanding import answer, now
from frontdoor.application.idempotency import once
from frontdoor.application.inputs import CoordinatorBody
from frontdoor.application.who import Asked, Principal
from frontdoor.application.work import known_team
from frontdoor.domain import commands as c
from frontdoor.services import Services


async def assign_coordinator(services: Services, who: Principal, asked: Asked, resident_id: str,
                             body: CoordinatorBody) -> Answer:
    known_team(services, body.team_id, "team_id")

    async def run() -> Answer:
        command = c.AssignCareCoordinator(at=now(), team_id=body.team_id, worker=body.worker)
        return await answer(services, who, asked, resident_id, command, {"team_id": body.team_id,
                                                                         "worker": body.worker})

    return await once(services.idempotency, who, asked.idempotency, run)
