"""Use cases on a resident's record: register, correct details, record a contact, record consent."""

from __future__ import annotations

import logging
from typing import Any

from frontdoor.application import nhs_numbers
from frontdoor.application.access import team_guard
from frontdoor.application.answers import Answer
from frontdoor.application.commanding import answer, context_for, execute, now
from frontdoor.application.idempotency import new_id, once
from frontdoor.application.inputs import ConsentBody, ContactBody, CorrectBody, RegisterBody
from frontdoor.application.who import Asked, Principal
from frontdoor.domain import commands as c
from frontdoor.domain.errors import DomainError, NhsNumberTaken
from frontdoor.handling import Context, Outcome
from frontdoor.services import Services
from projections import queries
from projections.people_matching import Person

log = logging.getLogger("frontdoor.residents")


async def register(services: Services, who: Principal, asked: Asked, body: RegisterBody) -> Answer:
    async def run() -> Answer:
        resident_id = new_id("resident", who, asked.idempotency)
        # Asked before anything is written: a database outage then fails the request with nothing written,
        # where asking after the append answered 503 for registrations that had landed (issue 9).
        matches = await likely_matches(services, resident_id, body)
        command = c.RegisterResident(at=now(), **body.model_dump())
        outcome = await register_resident(services, resident_id, command, context_for(who, asked))
        return Answer({"resident_id": resident_id, "seq": outcome.seq, "likely_matches": matches}, 201)

    return await once(services.idempotency, who, asked.idempotency, run)


async def register_resident(services: Services, resident_id: str, command: c.RegisterResident, context: Context,
                            *, without_a_taken_number: bool = False) -> Outcome:
    """Claim the NHS number, append the registration, free the claim again if the registration was refused.
    `without_a_taken_number`: register without a number another resident holds (the demo city), not refuse."""
    claimed = False
    if command.nhs_number:
        try:
            claimed = await nhs_numbers.claim(services.claims, services.store, command.nhs_number, resident_id)
        except NhsNumberTaken:
            if not without_a_taken_number:
                raise
            log.warning("NHS number %s is taken; %s is registered without it", command.nhs_number, resident_id)
            command = command.model_copy(update={"nhs_number": None})
    try:
        return await services.handler.handle(resident_id, command, context)
    except DomainError:
        # Refused: nothing was written. (After any other failure the append may yet land, so the claim stays;
        # it is taken over once it is old enough, or reused by a retry of this request.)
        if claimed and command.nhs_number:
            await nhs_numbers.release(services.claims, command.nhs_number, resident_id, why="registration refused")
        raise


async def likely_matches(services: Services, resident_id: str, body: RegisterBody) -> list[dict[str, Any]]:
    """Existing records that may be the same person, so the call handler can use one of those instead (the
    detector will also flag the pair for linking)."""
    person = Person(resident_id, body.given_name, body.family_name, body.date_of_birth, body.postcode,
                    body.nhs_number)
    async with services.engine.connect() as conn:
        return await queries.likely_matches(conn, person, threshold=services.settings.person_match)


async def correct_details(services: Services, who: Principal, asked: Asked, resident_id: str,
                          body: CorrectBody) -> Answer:
    async def run() -> Answer:
        number = body.nhs_number
        claimed = bool(number) and await nhs_numbers.claim(services.claims, services.store, str(number), resident_id)
        try:
            outcome = await execute(services, who, asked, resident_id, c.CorrectDetails(at=now(), **body.model_dump()))
        except DomainError:
            if claimed and number:
                await nhs_numbers.release(services.claims, number, resident_id, why="correction refused")
            raise
        old = outcome.before.details.nhs_number if outcome.before and outcome.before.details else None
        if number and old and old != number and outcome.events:
            # After the append nothing may fail the request: a release that fails is logged and left to
            # `frontdoor check`.
            await nhs_numbers.release(services.claims, old, resident_id, why="number corrected")
        return Answer({"resident_id": resident_id, "seq": outcome.seq,
                       "changed": [type(e).__name__ for e in outcome.events]})

    return await once(services.idempotency, who, asked.idempotency, run)


async def record_contact(services: Services, who: Principal, asked: Asked, resident_id: str,
                         body: ContactBody) -> Answer:
    async def run() -> Answer:
        contact_id = new_id("contact", who, asked.idempotency)
        command = c.RecordContact(at=body.occurred_at or now(), contact_id=contact_id,
                                  **body.model_dump(exclude={"occurred_at"}))
        outcome = await execute(services, who, asked, resident_id, command, guard=team_guard(who, services.teams))
        return Answer({"contact_id": contact_id, "resident_id": resident_id, "seq": outcome.seq}, 201)

    return await once(services.idempotency, who, asked.idempotency, run)


async def record_consent(services: Services, who: Principal, asked: Asked, resident_id: str,
                         body: ConsentBody) -> Answer:
    async def run() -> Answer:
        command = c.RecordConsent(at=now(), decision=body.decision, scope=body.scope, basis=body.basis,
                                  recorded_by=body.recorded_by or who.sub)
        return await answer(services, who, asked, resident_id, command, {"decision": body.decision}, status=201)

    return await once(services.idempotency, who, asked.idempotency, run)
