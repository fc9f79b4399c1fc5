"""Commands from team systems over NATS (DESIGN §3): request-reply on `cmd.<team_id>.<command>` for accept,
decline, complete and handoff. The reply is the result, or a problem object like the HTTP API's.

The team is the one in the subject: in a deployment each team's NATS user may publish only under its own
`cmd.<team_id>.>`, so the subject is the credential. Served with FastStream, which also documents these
subjects in the AsyncAPI document (docs/asyncapi.json).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream import Path
from faststream.nats import NatsBroker, NatsMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.catalogue import Identifier, Summary
from events.envelope import Actor
from events.errors import StoreUnavailable
from events.ids import uuid7
from frontdoor.api.problems import domain_problem, problem_body
from frontdoor.domain import commands as c
from frontdoor.domain.errors import DomainError, InvalidCommand
from frontdoor.handling import Context
from frontdoor.services import Services
from frontdoor.work_lookup import resident_of

COMMANDS = ("accept", "decline", "complete", "handoff")


class TeamCommand(BaseModel):
    """The body of a team command. `reason` for decline and handoff, `outcome` for complete, `to_team` for
    handoff; `idempotency_key` (or the Idempotency-Key header) makes a retry harmless."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    referral_id: str = Field(min_length=1, max_length=64)
    reason: Summary | None = None
    outcome: Summary | None = None
    to_team: Identifier | None = None
    worker: str | None = Field(default=None, max_length=200, description="who in the team did it (audit)")
    idempotency_key: str | None = Field(default=None, max_length=200)


def _command(name: str, team: str, body: TeamCommand) -> c.Command:
    at = datetime.now(UTC)
    if name == "accept":
        return c.AcceptReferral(at=at, referral_id=body.referral_id, by_team=team)
    if name == "decline":
        return c.DeclineReferral(at=at, referral_id=body.referral_id, by_team=team, reason=_need(body.reason, "reason"))
    if name == "complete":
        return c.CompleteReferral(at=at, referral_id=body.referral_id, by_team=team,
                                  outcome=_need(body.outcome, "outcome"))
    return c.HandOffReferral(at=at, referral_id=body.referral_id, by_team=team, to_team=_need(body.to_team, "to_team"),
                             reason=_need(body.reason, "reason"))


def _need(value: str | None, field: str) -> str:
    if not value:
        raise InvalidCommand(f"{field} is required for this command", field=field)
    return value


async def run_team_command(services: Services, team_id: str, name: str, raw: bytes,
                           headers: dict[str, str]) -> dict[str, Any]:
    if name not in COMMANDS:
        return problem_body(404, "No such command", f"commands are {', '.join(COMMANDS)}", code="not-found")
    if services.teams.get(team_id) is None:
        return problem_body(403, "Not allowed", f"no team {team_id} in the directory", code="forbidden")
    try:
        body = TeamCommand.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
        return problem_body(422, "The request is not valid", f"{errors[0]['field']}: {errors[0]['message']}",
                            code="invalid", errors=errors)
    try:
        if body.to_team and services.teams.get(body.to_team) is None:
            raise InvalidCommand(f"no team {body.to_team} in the directory", field="to_team")
        resident_id = await resident_of(services, "referral", body.referral_id)
        key = body.idempotency_key or headers.get("Idempotency-Key")
        actor = Actor(id=body.worker or f"team:{team_id}", role="team", team_id=team_id)
        context = Context(actor=actor, correlation_id=headers.get("correlation_id") or uuid7(), idempotency_key=key)
        outcome = await services.handler.handle(resident_id, _command(name, team_id, body), context)
    except DomainError as error:
        return domain_problem(error)
    except StoreUnavailable as exc:
        return problem_body(503, "The event store is unavailable", str(exc), code="store-unavailable")
    return {"ok": True, "command": name, "referral_id": body.referral_id, "resident_id": resident_id,
            "seq": outcome.seq, "replayed": outcome.replayed}


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
