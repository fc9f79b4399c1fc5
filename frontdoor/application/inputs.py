"""What the use cases take in, from any edge (HTTP bodies, UI forms, team commands): strict (unknown fields
are refused), each field checked where it enters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from events.catalogue import Caller, Name, ScopeItem, ShortText, Summary
from events.vocabulary import AssessmentKind, Channel, ConsentDecision, ContactOutcome, Need, Resolution, Urgency
from frontdoor.domain.nhs import normalise_nhs_number

# Team ids become subject tokens (`team.<id>.…`, `cmd.<id>.…`): no dots, no wildcards (issue 9).
TeamId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_future(value: date | None) -> date | None:
    if value is not None and value > datetime.now(UTC).date():
        raise ValueError("must not be in the future")
    return value


def _postcode(value: str | None) -> str | None:
    if value is None:
        return None
    compact = value.replace(" ", "").upper()
    if not (5 <= len(compact) <= 7 and compact[:1].isalpha() and compact[-3].isdigit() and compact[-2:].isalpha()):
        raise ValueError("not a UK postcode (e.g. SO14 7LY)")
    return f"{compact[:-3]} {compact[-3:]}"


class RegisterBody(Body):
    nhs_number: str | None = Field(default=None, description="10 digits, spaces allowed; checked with modulus 11")
    given_name: Name
    family_name: Name
    date_of_birth: date
    postcode: ShortText
    gp_practice: ShortText | None = None
    cluster: ShortText | None = None

    _nhs = field_validator("nhs_number")(lambda v: normalise_nhs_number(v) if v else None)
    _dob = field_validator("date_of_birth")(_not_future)
    _pc = field_validator("postcode")(_postcode)


class CorrectBody(Body):
    nhs_number: str | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: date | None = None
    postcode: ShortText | None = None
    gp_practice: ShortText | None = None
    cluster: ShortText | None = None
    reason: Summary | None = None

    _nhs = field_validator("nhs_number")(lambda v: normalise_nhs_number(v) if v else None)
    _dob = field_validator("date_of_birth")(_not_future)
    _pc = field_validator("postcode")(_postcode)


class ContactBody(Body):
    channel: Channel
    caller: Caller
    needs: list[Need] = Field(default_factory=list, max_length=10)
    urgency: Urgency = "routine"
    safeguarding: bool = False
    summary: Summary = ""
    outcome: ContactOutcome
    occurred_at: datetime | None = Field(default=None, description="when the contact happened, if not now")

    @field_validator("occurred_at")
    @classmethod
    def _past(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-22T09:14:03Z")
        if value > datetime.now(UTC):
            raise ValueError("must not be in the future")
        return value


class ConsentBody(Body):
    decision: ConsentDecision
    scope: list[ScopeItem] = Field(default_factory=lambda: ["all_partners"], min_length=1, max_length=50)
    basis: ShortText = "explicit"
    recorded_by: ShortText | None = None


class ReferralBody(Body):
    to_team: TeamId
    need: Need
    urgency: Urgency = "routine"
    reason: Summary = ""
    contact_id: UUID | None = None
    from_team: TeamId | None = None


class ReasonBody(Body):
    reason: Summary = Field(min_length=1)


class OutcomeBody(Body):
    outcome: Summary = Field(min_length=1)


class HandoffBody(Body):
    to_team: TeamId
    reason: Summary = Field(min_length=1)


class AssessmentBody(Body):
    kind: AssessmentKind
    team: TeamId | None = None


class CoordinatorBody(Body):
    team_id: TeamId
    worker: ShortText = Field(min_length=1)


class LinkBody(Body):
    other_resident_id: UUID
    evidence: Summary = Field(min_length=1)


class ResolveBody(Body):
    resolution: Resolution
    note: Summary | None = None
