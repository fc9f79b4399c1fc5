"""What every write use case shares: the command context from who asked, and handing a command to the
command handler with the answer it gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from frontdoor.application.answers import Answer
from frontdoor.application.who import Asked, Principal
from frontdoor.domain.commands import Command
from frontdoor.handling import Context, Guard, Outcome
from frontdoor.services import Services


def now() -> datetime:
    return datetime.now(UTC)


def context_for(who: Principal, asked: Asked, *, occurred_at: datetime | None = None) -> Context:
    return Context(actor=who.actor, correlation_id=asked.correlation_id,
                   idempotency_key=asked.idempotency.token if asked.idempotency else None, occurred_at=occurred_at)


async def execute(services: Services, who: Principal, asked: Asked, resident_id: str, command: Command, *,
                  guard: Guard | None = None, occurred_at: datetime | None = None) -> Outcome:
    return await services.handler.handle(resident_id, command, context_for(who, asked, occurred_at=occurred_at),
                                         guard=guard)


async def answer(services: Services, who: Principal, asked: Asked, resident_id: str, command: Command,
                 body: dict[str, Any], *, status: int = 200, guard: Guard | None = None) -> Answer:
    outcome = await execute(services, who, asked, resident_id, command, guard=guard)
    return Answer(body | {"resident_id": resident_id, "seq": outcome.seq}, status)
