"""The resident's decision state: only what `decide` needs to judge the next command. Immutable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from events.vocabulary import AssessmentKind, ConsentDecision, Need

# A referral waits at a team (`made`), is worked (`accepted`), or has ended.
OPEN_STATUSES = frozenset({"made", "accepted"})


@dataclass(frozen=True, slots=True)
class Details:
    given_name: str
    family_name: str
    date_of_birth: date
    postcode: str
    nhs_number: str | None = None
    gp_practice: str | None = None
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class Referral:
    referral_id: str
    to_team: str
    need: Need
    status: str  # made | accepted | declined | completed | withdrawn | handed_off
    from_team: str | None = None
    teams_had: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Assessment:
    assessment_id: str
    team: str
    kind: AssessmentKind
    completed: bool = False


@dataclass(frozen=True, slots=True)
class Coordinator:
    team_id: str
    worker: str


@dataclass(frozen=True, slots=True)
class ResidentState:
    details: Details | None = None
    consent: ConsentDecision | None = None
    consent_scope: tuple[str, ...] = ()
    contact_ids: frozenset[str] = frozenset()
    referrals: dict[str, Referral] = field(default_factory=dict)
    assessments: dict[str, Assessment] = field(default_factory=dict)
    coordinator: Coordinator | None = None
    linked: frozenset[str] = frozenset()
    open_flags: frozenset[str] = frozenset()
    closed_flags: frozenset[str] = frozenset()
    # Open possible-duplicate-resident flags and the records each names: linking those records closes them.
    person_flags: dict[str, frozenset[str]] = field(default_factory=dict)

    def involves(self, team_id: str) -> bool:
        """Whether the team has a relationship with the resident: work addressed to it now or before, an
        assessment, or the care coordination."""
        return (any(team_id in r.teams_had or team_id == r.to_team for r in self.referrals.values())
                or any(a.team == team_id for a in self.assessments.values())
                or (self.coordinator is not None and self.coordinator.team_id == team_id))

    @property
    def registered(self) -> bool:
        return self.details is not None


INITIAL_STATE = ResidentState()
