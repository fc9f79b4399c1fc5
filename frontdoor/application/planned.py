"""Use case of the synthetic city (`demo-city`): write one planned step, already a domain command with its own
time, actor and idempotency key, through the same paths as the front door's own use cases."""

from __future__ import annotations

from frontdoor.application.links import on_both
from frontdoor.application.residents import register_resident
from frontdoor.domain import commands as c
from frontdoor.handling import Context, Outcome
from frontdoor.services import Services


async def write_step(services: Services, resident_id: str, command: c.Command, context: Context) -> Outcome:
    if isinstance(command, c.RegisterResident):
        # A number another city's resident already holds: this one is registered without it.
        return await register_resident(services, resident_id, command, context, without_a_taken_number=True)
    if isinstance(command, c.LinkResidents | c.UnlinkResidents):
        return await on_both(services, context, resident_id, command.other_resident_id, command)
    return await services.handler.handle(resident_id, command, context)
