"""What travels on `cmd.<team_id>.<command>` (DESIGN §3, §9): the body of each command, the subject's parts, and the
two shapes of reply (done, or a problem object as the HTTP API's). NATS-only; running a command is
`frontdoor.team_commands`. The models are the AsyncAPI document's schemas.

Bodies reuse the HTTP request bodies' fields and checks, so the same bad input gets the same problem either way.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.catalogue import Identifier, Summary
from events.vocabulary import AssessmentKind
from frontdoor.api.problems import problem_body, validation_errors

MAX_KEY = 200
# Ids we mint are UUIDs: one that reaches a subject (`care.<resident_id>`) must never carry `*`, `>` or `.`.
Uuid = UUID  # parsed as the HTTP paths parse them, so a malformed id gets the same problem
WorkId = UUID  # referral and assessment ids are UUIDs too


class CommandBody(BaseModel):
    """Fields every command takes: who in the team acted (for the audit trail) and an idempotency key (or the
    `Idempotency-Key` header) that makes a retry harmless."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    worker: str | None = Field(default=None, max_length=200, description="who in the team did it (audit)")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=MAX_KEY)


class AcceptCommand(CommandBody):
    """cmd.<team_id>.accept: accept a referral addressed to the team."""

    referral_id: WorkId


class DeclineCommand(CommandBody):
    """cmd.<team_id>.decline: decline a referral addressed to the team, saying why."""

    referral_id: WorkId
    reason: Summary = Field(min_length=1)


class CompleteCommand(CommandBody):
    """cmd.<team_id>.complete: complete an accepted referral with its outcome."""

    referral_id: WorkId
    outcome: Summary = Field(min_length=1)


class HandoffCommand(CommandBody):
    """cmd.<team_id>.handoff: hand an accepted referral to another team of the directory."""

    referral_id: WorkId
    to_team: Identifier
    reason: Summary = Field(min_length=1)


class StartAssessmentCommand(CommandBody):
    """cmd.<team_id>.start-assessment: start an assessment of a resident by the team."""

    resident_id: Uuid
    kind: AssessmentKind
    team: Identifier | None = Field(default=None, description="if given, the team of the subject")


class CompleteAssessmentCommand(CommandBody):
    """cmd.<team_id>.complete-assessment: complete the team's assessment with its outcome."""

    assessment_id: WorkId
    outcome: Summary = Field(min_length=1)


COMMAND_BODIES: dict[str, type[CommandBody]] = {
    "accept": AcceptCommand,
    "decline": DeclineCommand,
    "complete": CompleteCommand,
    "handoff": HandoffCommand,
    "start-assessment": StartAssessmentCommand,
    "complete-assessment": CompleteAssessmentCommand,
}
COMMANDS = tuple(COMMAND_BODIES)


class CommandDone(BaseModel):
    """The reply to a command that was carried out (or had been, for a retry: `replayed`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ok: Literal[True] = True
    command: str
    resident_id: str
    seq: int = Field(description="stream sequence of the last event written; read your writes with ?min_seq=")
    replayed: bool = False
    referral_id: str | None = None
    assessment_id: str | None = None
    status: str | None = Field(default=None, description="the work's status after the command")


class ProblemError(BaseModel):
    model_config = ConfigDict(extra="allow")
    field: str
    message: str


class CommandProblem(BaseModel):
    """The reply to a command that was refused: an RFC 9457 problem object, as the HTTP API answers."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


class BadCommand(Exception):
    """The subject or body cannot be a command; `problem` is the reply."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem["detail"])
        self.problem = problem


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_subject(subject: str) -> tuple[str, str]:
    """(team_id, command) of `cmd.<team_id>.<command>`."""
    parts = subject.split(".")
    if len(parts) != 3 or parts[0] != "cmd" or not _TOKEN.match(parts[1]):
        raise BadCommand(problem_body(404, "No such command", f"{subject} is not cmd.<team_id>.<command>",
                                      code="not-found"))
    if parts[2] not in COMMAND_BODIES:
        raise BadCommand(problem_body(404, "No such command", f"commands are {', '.join(COMMANDS)}",
                                      code="not-found"))
    return parts[1], parts[2]


def parse_body(command: str, raw: bytes) -> CommandBody:
    try:
        return COMMAND_BODIES[command].model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise BadCommand(invalid_body(exc)) from exc


def invalid_body(exc: ValidationError) -> dict[str, Any]:
    """The 422 problem of the HTTP API for the same validation errors (field, message, type)."""
    detail, errors = validation_errors(list(exc.errors()))
    return problem_body(422, "The request is not valid", detail, code="invalid", errors=errors)
