"""The parts of a resident's joined-up view, typed: what each event means for the part it changes, said once.

Each part is a slotted dataclass whose fields are exactly the keys of its JSON in the stored document (DESIGN §8),
so orjson writes it natively and the document keeps its shape. Where the document has a key only sometimes (a
referral step's note, a resolved flag's resolution), that is a second class rather than a null key. Times stay
the ISO text the document has (`...Z`): the fold never needs them as datetimes, and the rules parse the few they
compare. `from_document` reads a part back from a parsed document.

The referral and assessment transitions are methods here because the caseload projection applies them too: a
change to what a referral step means is made in `Referral.move`, and both read models follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    CareCoordinatorAssigned,
    ConsentRecorded,
    ContactRecorded,
    DuplicationFlagged,
    DuplicationResolved,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
    ResidentDetailsCorrected,
    ResidentRegistered,
)

Document = dict[str, Any]
ReferralStep = ReferralAccepted | ReferralDeclined | ReferralCompleted | ReferralWithdrawn | ReferralHandedOff
STEP_NAMES: dict[type, str] = {
    ReferralAccepted: "accepted",
    ReferralDeclined: "declined",
    ReferralCompleted: "completed",
    ReferralWithdrawn: "withdrawn",
    ReferralHandedOff: "handed_off",
}
_DETAIL_FIELDS = ("nhs_number", "given_name", "family_name", "date_of_birth", "postcode", "gp_practice", "cluster")


@dataclass(slots=True)
class Details:
    nhs_number: str | None
    given_name: str
    family_name: str
    date_of_birth: str  # ISO date
    postcode: str
    gp_practice: str | None
    cluster: str | None
    registered_at: str

    @classmethod
    def registered(cls, event: ResidentRegistered, at: str) -> Details:
        return cls(event.nhs_number, event.given_name, event.family_name, event.date_of_birth.isoformat(),
                   event.postcode, event.gp_practice, event.cluster, at)

    def correct(self, event: ResidentDetailsCorrected) -> None:
        """Only the fields the correction sets (None means unchanged; the reason is not a detail)."""
        for name in _DETAIL_FIELDS:
            value = getattr(event, name)
            if value is not None:
                setattr(self, name, value if isinstance(value, str) else value.isoformat())

    @classmethod
    def from_document(cls, d: Document) -> Details:
        return cls(d.get("nhs_number"), d["given_name"], d["family_name"], d["date_of_birth"], d["postcode"],
                   d.get("gp_practice"), d.get("cluster"), d["registered_at"])


@dataclass(slots=True)
class Consent:
    decision: str
    scope: list[str]
    basis: str
    recorded_by: str
    at: str

    @classmethod
    def recorded(cls, event: ConsentRecorded, at: str) -> Consent:
        return cls(event.decision, list(event.scope), event.basis, event.recorded_by, at)

    @classmethod
    def from_document(cls, d: Document) -> Consent:
        return cls(d["decision"], d["scope"], d["basis"], d["recorded_by"], d["at"])


@dataclass(slots=True)
class Caller:
    relationship: str
    name: str | None
    organisation: str | None


@dataclass(slots=True)
class Contact:
    contact_id: str
    channel: str
    caller: Caller
    needs: list[str]
    urgency: str
    safeguarding: bool
    summary: str
    outcome: str
    at: str
    recorded_by: str

    @classmethod
    def recorded(cls, event: ContactRecorded, at: str, by: str) -> Contact:
        c = event.caller
        return cls(event.contact_id, event.channel, Caller(c.relationship, c.name, c.organisation), list(event.needs),
                   event.urgency, event.safeguarding, event.summary, event.outcome, at, by)

    @classmethod
    def from_document(cls, d: Document) -> Contact:
        c = d["caller"]
        return cls(d["contact_id"], d["channel"], Caller(c["relationship"], c.get("name"), c.get("organisation")),
                   d["needs"], d["urgency"], d["safeguarding"], d["summary"], d["outcome"], d["at"], d["recorded_by"])


@dataclass(slots=True)
class Step:
    """A step in a referral's history with nothing to say about it (made, or a step without a reason)."""

    step: str
    team: str
    at: str
    by: str


@dataclass(slots=True)
class NotedStep:
    step: str
    team: str
    at: str
    by: str
    note: str


@dataclass(slots=True)
class Handoff:
    step: str  # "handed_off"
    team: str  # the team it left
    to_team: str
    at: str
    by: str
    note: str


HistoryEntry = Step | NotedStep | Handoff


def history_entry(d: Document) -> HistoryEntry:
    if "to_team" in d:
        return Handoff(d["step"], d["team"], d["to_team"], d["at"], d["by"], d["note"])
    if "note" in d:
        return NotedStep(d["step"], d["team"], d["at"], d["by"], d["note"])
    return Step(d["step"], d["team"], d["at"], d["by"])


@dataclass(slots=True)
class Referral:
    referral_id: str
    from_team: str | None
    to_team: str
    need: str
    urgency: str
    reason: str
    contact_id: str | None
    status: str
    made_at: str
    waiting_since: str
    updated_at: str
    history: list[HistoryEntry] = field(default_factory=list)

    @classmethod
    def made(cls, event: ReferralMade, at: str, by: str) -> Referral:
        return cls(event.referral_id, event.from_team, event.to_team, event.need, event.urgency, event.reason,
                   event.contact_id, "made", at, at, at, [Step("made", event.to_team, at, by)])

    def move(self, event: ReferralStep, at: str, by: str) -> str:
        """A later step: where the referral is now, and its history. Returns the step's name. A handoff puts it
        back to `made` with the new team, waiting from now."""
        step = STEP_NAMES[type(event)]
        if isinstance(event, ReferralHandedOff):
            self.history.append(Handoff(step, event.from_team, event.to_team, at, by, event.reason))
            self.status, self.to_team, self.waiting_since = "made", event.to_team, at
        else:
            note = event.outcome if isinstance(event, ReferralCompleted) else getattr(event, "reason", None)
            self.history.append(NotedStep(step, self.to_team, at, by, note) if note else
                                Step(step, self.to_team, at, by))
            self.status = step
        self.updated_at = at
        return step

    @property
    def open(self) -> bool:
        return self.status in OPEN

    @classmethod
    def from_document(cls, d: Document) -> Referral:
        return cls(d["referral_id"], d["from_team"], d["to_team"], d["need"], d["urgency"], d["reason"],
                   d["contact_id"], d["status"], d["made_at"], d["waiting_since"], d["updated_at"],
                   [history_entry(h) for h in d["history"]])


OPEN = ("made", "accepted")


@dataclass(slots=True)
class Assessment:
    assessment_id: str
    team: str
    kind: str
    status: str
    started_at: str
    completed_at: str | None
    outcome: str | None

    @classmethod
    def started(cls, event: AssessmentStarted, at: str) -> Assessment:
        return cls(event.assessment_id, event.team, event.kind, "started", at, None, None)

    def complete(self, event: AssessmentCompleted, at: str) -> None:
        self.status, self.completed_at, self.outcome = "completed", at, event.outcome

    @classmethod
    def from_document(cls, d: Document) -> Assessment:
        return cls(d["assessment_id"], d["team"], d["kind"], d["status"], d["started_at"], d["completed_at"],
                   d["outcome"])


@dataclass(slots=True)
class Coordinator:
    team_id: str
    worker: str
    replaces: str | None
    since: str

    @classmethod
    def assigned(cls, event: CareCoordinatorAssigned, at: str) -> Coordinator:
        return cls(event.team_id, event.worker, event.replaces, at)

    @classmethod
    def from_document(cls, d: Document) -> Coordinator:
        return cls(d["team_id"], d["worker"], d["replaces"], d["since"])


@dataclass(slots=True)
class Flag:
    """An open flag of duplicated work on this record."""

    flag_id: str
    rule: str
    severity: str
    references: list[str]
    explanation: str
    raised_at: str
    status: str = "open"

    @classmethod
    def raised(cls, event: DuplicationFlagged, at: str) -> Flag:
        return cls(event.flag_id, event.rule, event.severity, list(event.references), event.explanation, at)

    def resolve(self, event: DuplicationResolved, at: str) -> ResolvedFlag:
        return ResolvedFlag(self.flag_id, self.rule, self.severity, self.references, self.explanation,
                            self.raised_at, "resolved", event.resolution, at)

    @classmethod
    def from_document(cls, d: Document) -> Flag:
        return cls(d["flag_id"], d["rule"], d["severity"], d["references"], d["explanation"], d["raised_at"],
                   d["status"])


@dataclass(slots=True)
class ResolvedFlag:
    flag_id: str
    rule: str
    severity: str
    references: list[str]
    explanation: str
    raised_at: str
    status: str
    resolution: str
    resolved_at: str

    @classmethod
    def from_document(cls, d: Document) -> ResolvedFlag:
        return cls(d["flag_id"], d["rule"], d["severity"], d["references"], d["explanation"], d["raised_at"],
                   d["status"], d["resolution"], d["resolved_at"])
