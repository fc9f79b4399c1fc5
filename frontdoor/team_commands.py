"""Commands from team systems over NATS (DESIGN §3): request-reply on `cmd.<team_id>.<command>` for accept,
decline, complete and handoff. The reply is the result, or the same problem object the HTTP API answers.

The team is the one in the subject: each team's NATS identity may publish only under its own `cmd.<team_id>.>`,
so the subject is the credential. This edge translates the message, calls the same use case as HTTP, and
translates its answer. Served with FastStream, which also documents these subjects (docs/asyncapi.json).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from faststream import Path
from faststream.nats import NatsBroker, NatsMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.catalogue import Summary
from events.errors import UnreadableEvent
from events.ids import uuid7
from events.subjects import is_team_id
from frontdoor.api.problems import (
    UNAVAILABLE,
    domain_problem,
    problem_body,
    unavailable_problem,
    unreadable_problem,
    validation_errors,
)
from frontdoor.application import referrals
from frontdoor.application.inputs import HandoffBody, OutcomeBody, ReasonBody, TeamId
from frontdoor.application.referrals import Step
from frontdoor.application.who import Asked, Idempotency, Principal
from frontdoor.domain.errors import DomainError, InvalidCommand
from frontdoor.idempotency import IdempotencyKeys
from frontdoor.services import Services

COMMANDS: dict[str, Step] = {"accept": "accept", "decline": "decline", "complete": "complete", "handoff": "handoff"}
log = logging.getLogger("frontdoor.team_commands")


class TeamCommand(BaseModel):
    """The body of a team command. `reason` for decline and handoff, `outcome` for complete, `to_team` for
    handoff; `idempotency_key` (or the Idempotency-Key header) makes a retry harmless."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    referral_id: UUID
    reason: Summary | None = None
    outcome: Summary | None = None
    to_team: TeamId | None = None
    worker: str | None = Field(default=None, max_length=200, description="who in the team did it (audit)")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


def _body(step: Step, command: TeamCommand) -> ReasonBody | OutcomeBody | HandoffBody | None:
    if step == "accept":
        return None
    if step == "complete":
        return OutcomeBody(outcome=_need(command.outcome, "outcome"))
    if step == "handoff":
        return HandoffBody(to_team=_need(command.to_team, "to_team"), reason=_need(command.reason, "reason"))
    return ReasonBody(reason=_need(command.reason, "reason"))


def _need(value: str | None, field: str) -> str:
    if not value:
        raise InvalidCommand(f"{field} is required for this command", field=field)
    return value


async def run_team_command(services: Services, team_id: str, name: str, raw: bytes,
                           headers: dict[str, str]) -> dict[str, Any]:
    step = COMMANDS.get(name)
    if step is None:
        return problem_body(404, "No such command", f"commands are {', '.join(COMMANDS)}", code="not-found")
    if not is_team_id(team_id) or services.teams.get(team_id) is None:
        return problem_body(403, "Not allowed", f"no team {team_id[:80]} in the directory", code="forbidden")
    try:
        command = TeamCommand.model_validate_json(raw)
    except ValidationError as exc:
        detail, errors = validation_errors(list(exc.errors()))
        return problem_body(422, "The request is not valid", detail, code="invalid", errors=errors)
    key = command.idempotency_key or headers.get("Idempotency-Key")
    unkeyed = command.model_copy(update={"idempotency_key": None}).model_dump_json().encode()
    idempotency = Idempotency(key, IdempotencyKeys.fingerprint(f"cmd.{team_id}.{name}".encode(), unkeyed)) \
        if key else None
    who = Principal(sub=command.worker or f"team:{team_id}", role="team", team_id=team_id)
    asked = Asked(correlation_id=(headers.get("X-Correlation-Id") or uuid7())[:64], idempotency=idempotency)
    try:
        answer = await referrals.take_step(services, who, asked, str(command.referral_id), step,
                                           body=_body(step, command))
    except DomainError as error:
        return domain_problem(error)
    except UnreadableEvent as exc:
        return unreadable_problem(exc)
    except UNAVAILABLE as exc:
        log.warning("team command %s from %s: a dependency is unavailable: %r", name, team_id, exc)
        return unavailable_problem(exc)
    return {"ok": True, "command": name, **answer.body, "replayed": answer.replayed}


def team_command_broker(services: Services, servers: list[str]) -> NatsBroker:
    broker = NatsBroker(servers, name="frontdoor-team-commands", logger=None)

    @broker.subscriber("cmd.{team_id}.{command}", queue="frontdoor-team-commands",
                       title="cmd.<team_id>.<command>",
                       description="accept, decline, complete or handoff a referral addressed to the team; "
                                   "the reply is the result or a problem object")
    async def team_command(message: NatsMessage, team_id: str = Path(), command: str = Path()) -> dict[str, Any]:
        headers = {k: str(v) for k, v in (message.headers or {}).items()}
        return await run_team_command(services, team_id, command, message.body, headers)

    return broker
