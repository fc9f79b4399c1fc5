"""Commands from team systems over NATS (DESIGN §3, §9): request-reply on `cmd.<team_id>.<command>` for accept,
decline, complete, handoff, start-assessment and complete-assessment. The reply is the result, or a problem
object like the HTTP API's (`frontdoor.team_messages` holds the payloads and reply shapes).

The team is the one in the subject: each team's NATS account may publish only under its own `cmd.<team_id>.>`
(frontdoor/nats_config.py), so the subject is the credential. Served with FastStream, which also documents these
subjects in the AsyncAPI document (docs/asyncapi.json).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream import Path
from faststream.nats import NatsBroker, NatsMessage

from events.envelope import Actor
from events.errors import StoreUnavailable
from events.ids import derived_id, uuid7
from frontdoor.api.problems import domain_problem, problem_body
from frontdoor.domain import commands as c
from frontdoor.domain.errors import DomainError, InvalidCommand, NotYourWork
from frontdoor.handling import Context
from frontdoor.services import Services
from frontdoor.team_durables import add_durable_lookup
from frontdoor.team_messages import (
    AcceptCommand,
    BadCommand,
    CommandBody,
    CommandDone,
    CompleteAssessmentCommand,
    CompleteCommand,
    DeclineCommand,
    HandoffCommand,
    StartAssessmentCommand,
    parse_body,
    parse_subject,
)
from frontdoor.work_lookup import resident_of

COMMANDS_DESCRIPTION = ("accept, decline, complete or hand off a referral addressed to the team, start an assessment "
                        "or complete the team's assessment; the reply is the result or a problem object")


async def run_team_command(services: Services, team_id: str, name: str, raw: bytes,
                           headers: dict[str, str]) -> dict[str, Any]:
    try:
        team_id, name = parse_subject(f"cmd.{team_id}.{name}")
        if services.teams.get(team_id) is None:
            return problem_body(403, "Not allowed", f"no team {team_id} in the directory", code="forbidden")
        body = parse_body(name, raw)
        return (await _execute(services, team_id, name, body, headers)).model_dump(exclude_none=True)
    except BadCommand as bad:
        return bad.problem
    except DomainError as error:
        return domain_problem(error)
    except StoreUnavailable as exc:
        return problem_body(503, "The event store is unavailable", str(exc), code="store-unavailable")


async def _execute(services: Services, team_id: str, name: str, body: CommandBody,
                   headers: dict[str, str]) -> CommandDone:
    at = datetime.now(UTC)
    key = body.idempotency_key or (headers.get("Idempotency-Key") or "").strip()[:200] or None
    actor = Actor(id=body.worker or f"team:{team_id}", role="team", team_id=team_id)
    context = Context(actor=actor, correlation_id=(headers.get("correlation_id") or uuid7())[:64],
                      idempotency_key=key)
    work: dict[str, str] = {}
    match body:
        case StartAssessmentCommand():
            if body.team is not None and body.team != team_id:
                raise NotYourWork(f"a {team_id} command cannot act for team {body.team}", field="team")
            resident_id = body.resident_id
            assessment_id = derived_id("assessment", actor.id, key) if key else uuid7()
            command: c.Command = c.StartAssessment(at=at, assessment_id=assessment_id, team=team_id, kind=body.kind)
            work = {"assessment_id": assessment_id}
        case CompleteAssessmentCommand():
            resident_id = await resident_of(services, "assessment", body.assessment_id)
            command = c.CompleteAssessment(at=at, assessment_id=body.assessment_id, by_team=team_id,
                                           outcome=body.outcome)
            work = {"assessment_id": body.assessment_id, "status": "completed"}
        case AcceptCommand() | DeclineCommand() | CompleteCommand() | HandoffCommand():
            if isinstance(body, HandoffCommand) and services.teams.get(body.to_team) is None:
                raise InvalidCommand(f"no team {body.to_team} in the directory (see GET /teams)", field="to_team")
            resident_id = await resident_of(services, "referral", body.referral_id)
            command, status = _referral_step(at, team_id, body)
            work = {"referral_id": body.referral_id, "status": status}
        case _:
            raise InvalidCommand(f"no command {name}")
    outcome = await services.handler.handle(resident_id, command, context)
    return CommandDone(command=name, resident_id=resident_id, seq=outcome.seq, replayed=outcome.replayed, **work)


def _referral_step(at: datetime, team_id: str, body: CommandBody) -> tuple[c.Command, str]:
    match body:
        case AcceptCommand():
            return c.AcceptReferral(at=at, referral_id=body.referral_id, by_team=team_id), "accepted"
        case DeclineCommand():
            return c.DeclineReferral(at=at, referral_id=body.referral_id, by_team=team_id,
                                     reason=body.reason), "declined"
        case CompleteCommand():
            return c.CompleteReferral(at=at, referral_id=body.referral_id, by_team=team_id,
                                      outcome=body.outcome), "completed"
        case HandoffCommand():
            return c.HandOffReferral(at=at, referral_id=body.referral_id, by_team=team_id, to_team=body.to_team,
                                     reason=body.reason), "made"
    raise InvalidCommand("not a referral step")


def team_command_broker(services: Services, servers: list[str]) -> NatsBroker:
    broker = NatsBroker(servers, name="frontdoor-team-commands", logger=None)

    @broker.subscriber("cmd.{team_id}.{command}", queue="frontdoor-team-commands",
                       title="cmd.<team_id>.<command>", description=COMMANDS_DESCRIPTION)
    async def team_command(message: NatsMessage, team_id: str = Path(), command: str = Path()) -> dict[str, Any]:
        headers = {k: str(v) for k, v in (message.headers or {}).items()}
        return await run_team_command(services, team_id, command, message.body, headers)

    add_durable_lookup(broker, services)
    return broker
