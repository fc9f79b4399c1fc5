"""Commands: what someone asks the front door to do, in the imperative. Each carries its own time (`at`) and,
for team actions, the team that acts (`by_team`), so that `decide` needs no clock and no session."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from events.catalogue import Caller, Identifier, Name, ScopeItem, ShortText, Summary
from events.vocabulary import (
    AssessmentKind,
    Channel,
    ConsentDecision,
    ContactOutcome,
    Need,
    Resolution,
    Rule,
    Severity,
    Urgency,
)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    at: datetime


class RegisterResident(Command):
    nhs_number: str | None = None  # already normalised and checked at the edge
    given_name: Name
    family_name: Name
    date_of_birth: date
    postcode: ShortText
    gp_practice: ShortText | None = None
    cluster: ShortText | None = None


class CorrectDetails(Command):
    nhs_number: str | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: date | None = None
    postcode: ShortText | None = None
    gp_practice: ShortText | None = None
    cluster: ShortText | None = None
    reason: Summary | None = None


class RecordConsent(Command):
    decision: ConsentDecision
    scope: list[ScopeItem]
    basis: ShortText
    recorded_by: ShortText


class RecordContact(Command):
    contact_id: str
    channel: Channel
    caller: Caller
    needs: list[Need]
    urgency: Urgency
    safeguarding: bool
    summary: Summary
    outcome: ContactOutcome


class MakeReferral(Command):
    referral_id: str
    from_team: Identifier | None = None
    to_team: Identifier
    need: Need
    urgency: Urgency
    reason: Summary
    contact_id: str | None = None


class AcceptReferral(Command):
    referral_id: str
    by_team: Identifier | None = None  # None: front-door staff act for the team that holds the referral


class DeclineReferral(Command):
    referral_id: str
    by_team: Identifier | None = None  # None: front-door staff act for the team that holds the referral
    reason: Summary


class CompleteReferral(Command):
    referral_id: str
    by_team: Identifier | None = None  # None: front-door staff act for the team that holds the referral
    outcome: Summary


class WithdrawReferral(Command):
    referral_id: str
    by_team: Identifier | None = None  # None: the front door withdraws it
    reason: Summary


class HandOffReferral(Command):
    referral_id: str
    by_team: Identifier | None = None  # None: front-door staff act for the team that holds the referral
    to_team: Identifier
    reason: Summary


class StartAssessment(Command):
    assessment_id: str
    team: Identifier
    kind: AssessmentKind


class CompleteAssessment(Command):
    assessment_id: str
    by_team: Identifier | None = None  # None: a coordinator or admin records it for the team
    outcome: Summary


class AssignCareCoordinator(Command):
    team_id: Identifier
    worker: ShortText


class LinkResidents(Command):
    resident_id: str
    other_resident_id: str
    evidence: Summary
    decided_by: ShortText


class UnlinkResidents(Command):
    resident_id: str
    other_resident_id: str
    evidence: Summary
    decided_by: ShortText


class ResolveFlag(Command):
    flag_id: str
    resolution: Resolution
    by: ShortText
    note: Summary | None = None


class FlagDuplication(Command):
    """Issued by the duplicate-work detector, not by people."""

    flag_id: str
    rule: Rule
    severity: Severity
    references: list[str]
    explanation: str
