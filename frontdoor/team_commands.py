"""Commands from team systems over NATS (DESIGN §3, §9): request-reply on `cmd.<team_id>.<command>` for accept,
decline, complete, handoff, start-assessment and complete-assessment. The reply is the result, or the same problem
object the HTTP API answers (`frontdoor.team_messages` holds the payloads and reply shapes).

The team is the one in the subject: each team's NATS account may publish only under its own `cmd.<team_id>.>`
(frontdoor/nats_config.py), so the subject is the credential. This edge translates the message, calls the same use
case as HTTP, and translates its answer. Served with FastStream, which also documents these subjects in the
AsyncAPI document (docs/asyncapi.json).
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import Path
from faststream.nats import NatsBroker, NatsMessage

from events.errors import UnreadableEvent
from events.ids import uuid7
from frontdoor.api.problems import UNAVAILABLE, domain_problem, problem_body, unavailable_problem, unreadable_problem
from frontdoor.application import assessments, referrals
from frontdoor.application.answers import Answer
from frontdoor.application.inputs import AssessmentBody, HandoffBody, OutcomeBody, ReasonBody
from frontdoor.application.who import Asked, Idempotency, Principal
from frontdoor.domain.errors import DomainError, InvalidCommand
from frontdoor.idempotency import IdempotencyKeys
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

COMMANDS_DESCRIPTION = ("accept, decline, complete or hand off a referral addressed to the team, start an assessment "
                        "or complete the team's assessment; the reply is the result or a problem object")
log = logging.getLogger("frontdoor.team_commands")


async def run_team_command(services: Services, team_id: str, name: str, raw: bytes,
                           headers: dict[str, str]) -> dict[str, Any]:
    try:
        team_id, name = parse_subject(f"cmd.{team_id}.{name}")
        if services.teams.get(team_id) is None:
            return problem_body(403, "Not allowed", f"no team {team_id} in the directory", code="forbidden")
        body = parse_body(name, raw)
        answer = await _execute(services, team_id, name, body, headers)
    except BadCommand as bad:
        return bad.problem
    except DomainError as error:
        return domain_problem(error)
    except UnreadableEvent as exc:
        return unreadable_problem(exc)
    except UNAVAILABLE as exc:
        log.warning("team command %s from %s: a dependency is unavailable: %r", name, team_id, exc)
        return unavailable_problem(exc)
    done = {k: v for k, v in answer.body.items() if k in CommandDone.model_fields}
    return CommandDone(command=name, replayed=answer.replayed, **done).model_dump(exclude_none=True)


async def _execute(services: Services, team_id: str, name: str, body: CommandBody,
                   headers: dict[str, str]) -> Answer:
    key = body.idempotency_key or (headers.get("Idempotency-Key") or "").strip()[:200] or None
    unkeyed = body.model_copy(update={"idempotency_key": None}).model_dump_json().encode()
    idempotency = Idempotency(key, IdempotencyKeys.fingerprint(f"cmd.{team_id}.{name}".encode(), unkeyed)) \
        if key else None
    who = Principal(sub=body.worker or f"team:{team_id}", role="team", team_id=team_id)
    correlation = headers.get("X-Correlation-Id") or headers.get("correlation_id") or uuid7()
    asked = Asked(correlation_id=correlation[:64], idempotency=idempotency)
    match body:
        case StartAssessmentCommand():
            return await assessments.start_assessment(services, who, asked, str(body.resident_id),
                                                      AssessmentBody(kind=body.kind, team=body.team))
        case CompleteAssessmentCommand():
            return await assessments.complete_assessment(services, who, asked, str(body.assessment_id),
                                                         OutcomeBody(outcome=body.outcome))
        case AcceptCommand():
            return await referrals.take_step(services, who, asked, str(body.referral_id), "accept")
        case DeclineCommand():
            return await referrals.take_step(services, who, asked, str(body.referral_id), "decline",
                                             body=ReasonBody(reason=body.reason))
        case CompleteCommand():
            return await referrals.take_step(services, who, asked, str(body.referral_id), "complete",
                                             body=OutcomeBody(outcome=body.outcome))
        case HandoffCommand():
            return await referrals.take_step(services, who, asked, str(body.referral_id), "handoff",
                                             body=HandoffBody(to_team=body.to_team, reason=body.reason))
    raise InvalidCommand(f"no command {name}")


def team_command_broker(services: Services, servers: list[str]) -> NatsBroker:
    broker = NatsBroker(servers, name="frontdoor-team-commands", logger=None)

    @broker.subscriber("cmd.{team_id}.{command}", queue="frontdoor-team-commands",
                       title="cmd.<team_id>.<command>", description=COMMANDS_DESCRIPTION)
    async def team_command(message: NatsMessage, team_id: str = Path(), command: str = Path()) -> dict[str, Any]:
        headers = {k: str(v) for k, v in (message.headers or {}).items()}
        return await run_team_command(services, team_id, command, message.body, headers)

    add_durable_lookup(broker, services)
    return broker
