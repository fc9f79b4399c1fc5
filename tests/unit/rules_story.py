"""Given-when-then for the duplicate-work rules (STYLE point 4), so a test reads as the rule it checks:

    given(on(0, referral("ref-1", to="falls")))
        .when(referral("ref-2", to="ot"), on_day=3)
        .then_flags("parallel_referrals", ["ref-1", "ref-2"])

`given` folds the resident's past into a view with `resident_view.apply`, each event on its day (days counted
from DAY_ZERO, sequence numbers 1, 2, 3...); `when` folds one more event and runs every rule on it with
`findings_for`, as the detector does; the `then_*` call checks what the rules found, all of them, so a story
that should raise one flag fails if it raises another as well. The detector's own memory of what it found is
not modelled: to say a flag was raised earlier, put `flagged(finding)` in the history, as the stream would.

Below the story are short builders for the events the stories are told with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events.catalogue import (
    AssessmentStarted,
    Caller,
    CareCoordinatorAssigned,
    ContactRecorded,
    DuplicationFlagged,
    Event,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
)
from events.codec import wrap
from events.envelope import Actor, RecordedEvent
from events.vocabulary import AssessmentKind, Need, Rule, Urgency
from projections.resident_view import ResidentView, apply, fold_view
from projections.rules import Finding, Thresholds, findings_for
from projections.view_parts import Coordinator, Flag

RESIDENT = "resident-1"
DAY_ZERO = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
FALLS: Need = "mobility and falls"


@dataclass(frozen=True, slots=True)
class Timed:
    """An event and the day it happened (a fraction of a day is hours: 28 + 1/24 is 28 days and an hour)."""

    day: float
    event: Event


def on(day: float, event: Event) -> Timed:
    return Timed(day, event)


def recorded(seq: int, timed: Timed) -> RecordedEvent:
    envelope = wrap(timed.event, event_id=f"event-{seq}", resident_id=RESIDENT,
                    actor=Actor(id="t", role="call_handler"),
                    occurred_at=DAY_ZERO + timedelta(days=timed.day), correlation_id="c")
    return RecordedEvent(seq, envelope, timed.event)


@dataclass(frozen=True, slots=True)
class Then:
    findings: tuple[Finding, ...]

    def then_flags(self, rule: Rule, references: Sequence[str]) -> Finding:
        """The rules found exactly this one duplication; it is returned so a test can check its severity."""
        found = [(f.rule, list(f.references)) for f in self.findings]
        assert found == [(rule, list(references))], f"expected one {rule} flag on {list(references)}, found {found}"
        return self.findings[0]

    def then_no_flag(self) -> None:
        """No rule found anything."""
        found = [(f.rule, list(f.references)) for f in self.findings]
        assert found == [], f"expected no flag, found {found}"


@dataclass(frozen=True, slots=True)
class Given:
    history: tuple[Timed, ...]

    @property
    def view(self) -> ResidentView:
        """The resident view after the whole history (a fresh fold each time, so a story can be reused)."""
        return fold_view(RESIDENT, [recorded(seq, timed) for seq, timed in enumerate(self.history, start=1)])

    def when(self, event: Event, on_day: float) -> Then:
        view = self.view
        latest = recorded(len(self.history) + 1, Timed(on_day, event))
        apply(view, latest)
        return Then(tuple(findings_for(view, latest, Thresholds())))


def given(*history: Timed) -> Given:
    return Given(history)


# The events the stories are told with.


def referral(referral_id: str, *, to: str, need: Need = FALLS, urgency: Urgency = "routine") -> ReferralMade:
    return ReferralMade(referral_id=referral_id, to_team=to, need=need, urgency=urgency)


def accepted(referral_id: str, *, by: str) -> ReferralAccepted:
    return ReferralAccepted(referral_id=referral_id, team=by)


def declined(referral_id: str, *, by: str) -> ReferralDeclined:
    return ReferralDeclined(referral_id=referral_id, team=by, reason="Not eligible.")


def completed(referral_id: str, *, by: str) -> ReferralCompleted:
    return ReferralCompleted(referral_id=referral_id, team=by, outcome="Done.")


def withdrawn(referral_id: str) -> ReferralWithdrawn:
    return ReferralWithdrawn(referral_id=referral_id, reason="No longer needed.")


def handed_off(referral_id: str, *, from_team: str, to: str) -> ReferralHandedOff:
    return ReferralHandedOff(referral_id=referral_id, from_team=from_team, to_team=to, reason="Better placed.")


def assessment(assessment_id: str, *, by: str, kind: AssessmentKind) -> AssessmentStarted:
    return AssessmentStarted(assessment_id=assessment_id, team=by, kind=kind)


def contact(contact_id: str, *needs: Need) -> ContactRecorded:
    return ContactRecorded(contact_id=contact_id, channel="phone", caller=Caller(relationship="self"),
                           needs=list(needs), outcome="advice")


def coordinator(*, team: str, worker: str) -> CareCoordinatorAssigned:
    return CareCoordinatorAssigned(team_id=team, worker=worker)


def flagged(finding: Finding) -> DuplicationFlagged:
    """The flag the detector writes for a finding."""
    return DuplicationFlagged(flag_id=finding.flag_id, rule=finding.rule, severity=finding.severity,
                              references=list(finding.references), explanation=finding.explanation)


def open_flag(rule: Rule, references: Sequence[str]) -> Flag:
    """A flag as the view holds it while open (what `still_duplicated` is asked about)."""
    return Flag("flag-1", rule, "medium", list(references), "", "2025-03-03T09:00:00Z")


def coordinator_of(*, team: str, worker: str) -> Coordinator:
    """A care coordinator as the view holds it."""
    return Coordinator(team, worker, None, "2025-03-03T09:00:00Z")
