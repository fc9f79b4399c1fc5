"""Use cases on two records of one person: link, unlink, and resolve a possible-duplicate flag by linking.

Each is one command on both records: the events for both land in one atomic batch or not at all, each record's
part checked against its own last sequence (frontdoor.domain.links decides; the handler appends).
"""

from __future__ import annotations

from frontdoor.application.answers import Answer
from frontdoor.application.commanding import context_for, now
from frontdoor.application.idempotency import once
from frontdoor.application.inputs import LinkBody, ReasonBody
from frontdoor.application.who import Asked, Principal
from frontdoor.domain import commands as c
from frontdoor.domain.links import PairOfEvents, decide_pair
from frontdoor.domain.state import ResidentState
from frontdoor.handling import Context, Outcome
from frontdoor.services import Services


async def link(services: Services, who: Principal, asked: Asked, resident_id: str, body: LinkBody) -> Answer:
    other = str(body.other_resident_id)

    async def run() -> Answer:
        command = c.LinkResidents(at=now(), resident_id=resident_id, other_resident_id=other,
                                  evidence=body.evidence, decided_by=who.sub)
        outcome = await on_both(services, context_for(who, asked), resident_id, other, command)
        return Answer({"resident_id": resident_id, "other_resident_id": other, "linked": True,
                       "seq": outcome.seq}, 201)

    return await once(services.idempotency, who, asked.idempotency, run)


async def unlink(services: Services, who: Principal, asked: Asked, resident_id: str, other: str,
                 body: ReasonBody) -> Answer:
    async def run() -> Answer:
        command = c.UnlinkResidents(at=now(), resident_id=resident_id, other_resident_id=other,
                                    evidence=body.reason, decided_by=who.sub)
        outcome = await on_both(services, context_for(who, asked), resident_id, other, command)
        return Answer({"resident_id": resident_id, "other_resident_id": other, "linked": False,
                       "seq": outcome.seq})

    return await once(services.idempotency, who, asked.idempotency, run)


async def on_both(services: Services, context: Context, resident_id: str, other: str,
                  command: c.LinkResidents | c.UnlinkResidents | c.ResolveFlag) -> Outcome:
    def decision(mine: ResidentState, theirs: ResidentState) -> PairOfEvents:
        return decide_pair(command, mine, theirs, mine_id=resident_id, theirs_id=other)

    return await services.handler.handle_pair(resident_id, other, decision, command, context)
