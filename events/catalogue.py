"""The event catalogue, version 1 (DESIGN §4): frozen pydantic models, past tense, one fact each.

A published version never changes: a new shape is a new version plus an upcaster (see `upcasting`).
The envelope carries who, when and which resident; these models carry only the fact itself.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.vocabulary import (
    AssessmentKind,
    Channel,
    ConsentDecision,
    ContactOutcome,
    Need,
    Resolution,
    Role,
    Rule,
    Severity,
    Urgency,
)

# Free text is bounded so that one call cannot bloat the stream; it never leaves for analysts.
Summary = Annotated[str, StringConstraints(max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Event(BaseModel):
    """Base of every event: immutable, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__


class ResidentRegistered(Event):
    nhs_number: str | None = None
    given_name: Name
    family_name: Name
    date_of_birth: date
    postcode: ShortText
    gp_practice: ShortText | None = None
    cluster: ShortText | None = None


class ResidentDetailsCorrected(Event):
    """Only the fields that changed are set; None means unchanged."""

    nhs_number: str | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: date | None = None
    postcode: ShortText | None = None
    gp_practice: ShortText | None = None
    cluster: ShortText | None = None
    reason: Summary | None = None


# A team id, an organisation as the directory names it ("Southampton City Council"), a sector, or all_partners.
ScopeItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ConsentRecorded(Event):
    decision: ConsentDecision
    scope: list[ScopeItem] = Field(default_factory=lambda: ["all_partners"])
    basis: ShortText = "explicit"
    recorded_by: ShortText


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    relationship: ShortText
    name: ShortText | None = None
    organisation: ShortText | None = None


class ContactRecorded(Event):
    contact_id: str
    channel: Channel
    caller: Caller
    needs: list[Need] = Field(default_factory=list)
    urgency: Urgency = "routine"
    safeguarding: bool = False
    summary: Summary = ""
    outcome: ContactOutcome


class ReferralMade(Event):
    referral_id: str
    from_team: Identifier | None = None  # None: the front door itself
    to_team: Identifier
    need: Need
    urgency: Urgency = "routine"
    reason: Summary = ""
    contact_id: str | None = None


class ReferralAccepted(Event):
    referral_id: str
    team: Identifier


class ReferralDeclined(Event):
    referral_id: str
    team: Identifier
    reason: Summary


class ReferralCompleted(Event):
    referral_id: str
    team: Identifier
    outcome: Summary


class ReferralWithdrawn(Event):
    referral_id: str
    team: Identifier | None = None
    reason: Summary


class ReferralHandedOff(Event):
    referral_id: str
    from_team: Identifier
    to_team: Identifier
    reason: Summary


class AssessmentStarted(Event):
    assessment_id: str
    team: Identifier
    kind: AssessmentKind


class AssessmentCompleted(Event):
    assessment_id: str
    team: Identifier
    kind: AssessmentKind
    outcome: Summary


class CareCoordinatorAssigned(Event):
    team_id: Identifier
    worker: ShortText
    replaces: ShortText | None = None


class ResidentsLinked(Event):
    """Written to both records' subjects in one atomic batch (v2): each record's own stream says it is linked.
    Version 1 was written to one record only; it is read as v2 with `both_records=False`, and a fold of such
    an event also links the other record, as it always did."""

    version: ClassVar[int] = 2
    resident_id: str
    other_resident_id: str
    evidence: Summary
    decided_by: ShortText
    both_records: bool = True


class ResidentsUnlinked(Event):
    """As `ResidentsLinked`: v2 on both records, v1 (one record only) read with `both_records=False`."""

    version: ClassVar[int] = 2
    resident_id: str
    other_resident_id: str
    evidence: Summary
    decided_by: ShortText
    both_records: bool = True


class DuplicationFlagged(Event):
    flag_id: str
    rule: Rule
    severity: Severity
    references: list[str]
    explanation: str


class DuplicationResolved(Event):
    flag_id: str
    resolution: Resolution
    by: ShortText
    note: Summary | None = None


class EventSuperseded(Event):
    """An operator's mark on a message of this resident's subject that cannot be read (or must not be folded):
    folds skip the named sequence from then on. The bad message stays in the stream: nothing is ever deleted."""

    sequence: Annotated[int, Field(ge=1)]
    reason: Summary


class RecordViewed(Event):
    """Audit (stream AUDIT): who looked at what, and why they said they did."""

    viewer: str
    role: Role
    team_id: str | None = None
    what: str
    resident_id: str | None = None
    purpose: ShortText | None = None


class ExportMade(Event):
    """Audit: an analyst export (pseudonymised) and what it covered."""

    by: str
    destination: str
    from_seq: int
    to_seq: int
    as_of: str | None = None


CARE_EVENTS: tuple[type[Event], ...] = (
    ResidentRegistered,
    ResidentDetailsCorrected,
    ConsentRecorded,
    ContactRecorded,
    ReferralMade,
    ReferralAccepted,
    ReferralDeclined,
    ReferralCompleted,
    ReferralWithdrawn,
    ReferralHandedOff,
    AssessmentStarted,
    AssessmentCompleted,
    CareCoordinatorAssigned,
    ResidentsLinked,
    ResidentsUnlinked,
    DuplicationFlagged,
    DuplicationResolved,
    EventSuperseded,
)
AUDIT_EVENTS: tuple[type[Event], ...] = (RecordViewed, ExportMade)
# On the CARE stream too, but about the stream itself rather than the resident's care: not in a team's feed list.
EVENT_TYPES: dict[str, type[Event]] = {cls.type_name(): cls for cls in CARE_EVENTS + AUDIT_EVENTS}
