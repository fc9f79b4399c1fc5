"""Assessments, the care coordinator, linked records and duplication flags."""

from __future__ import annotations

from datetime import UTC, date, datetime

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    CareCoordinatorAssigned,
    DuplicationFlagged,
    DuplicationResolved,
    ResidentRegistered,
    ResidentsLinked,
    ResidentsUnlinked,
)
from frontdoor.domain import commands as c
from frontdoor.domain.errors import IllegalStep, InvalidCommand, NotYourWork, WorkNotFound
from tests.unit.given_when_then import given

AT = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)

REGISTERED = ResidentRegistered(
    given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10), postcode="LS1 4AB"
)

# Assessments

STARTED = AssessmentStarted(assessment_id="as-1", team="ot", kind="OT")
COMPLETED = AssessmentCompleted(assessment_id="as-1", team="ot", kind="OT", outcome="Grab rails and a perching stool.")


def complete_assessment(team: str | None = "ot", assessment_id: str = "as-1") -> c.CompleteAssessment:
    return c.CompleteAssessment(
        at=AT, assessment_id=assessment_id, by_team=team, outcome="Grab rails and a perching stool."
    )


def test_an_assessment_is_started() -> None:
    given(REGISTERED).when(c.StartAssessment(at=AT, assessment_id="as-1", team="ot", kind="OT")).then(STARTED)


def test_starting_the_same_assessment_again_writes_nothing() -> None:
    given(REGISTERED, STARTED).when(c.StartAssessment(at=AT, assessment_id="as-1", team="ot", kind="OT")).then_nothing()


def test_the_team_completes_its_assessment() -> None:
    given(REGISTERED, STARTED).when(complete_assessment()).then(COMPLETED)


def test_a_coordinator_may_complete_it_for_the_team() -> None:
    given(REGISTERED, STARTED).when(complete_assessment(team=None)).then(COMPLETED)


def test_an_assessment_cannot_be_completed_twice() -> None:
    given(REGISTERED, STARTED, COMPLETED).when(complete_assessment()).then_raises(IllegalStep)


def test_another_team_cannot_complete_the_assessment() -> None:
    given(REGISTERED, STARTED).when(complete_assessment(team="falls")).then_raises(NotYourWork)


def test_an_unknown_assessment_is_not_found() -> None:
    given(REGISTERED, STARTED).when(complete_assessment(assessment_id="as-9")).then_raises(WorkNotFound)


# Care coordinator


def assign(worker: str, team: str = "adult-social-care") -> c.AssignCareCoordinator:
    return c.AssignCareCoordinator(at=AT, team_id=team, worker=worker)


SAM = CareCoordinatorAssigned(team_id="adult-social-care", worker="Sam Okafor", replaces=None)


def test_the_first_coordinator_replaces_no_one() -> None:
    given(REGISTERED).when(assign("Sam Okafor")).then(SAM)


def test_a_new_coordinator_records_whom_they_replace() -> None:
    given(REGISTERED, SAM).when(assign("Priya Shah")).then(
        CareCoordinatorAssigned(team_id="adult-social-care", worker="Priya Shah", replaces="Sam Okafor")
    )


def test_assigning_the_same_coordinator_again_writes_nothing() -> None:
    given(REGISTERED, SAM).when(assign("Sam Okafor")).then_nothing()


def test_the_coordinator_replaced_is_the_latest_one() -> None:
    priya = CareCoordinatorAssigned(team_id="adult-social-care", worker="Priya Shah", replaces="Sam Okafor")
    given(REGISTERED, SAM, priya).when(assign("Lee Chen", team="community-health")).then(
        CareCoordinatorAssigned(team_id="community-health", worker="Lee Chen", replaces="Priya Shah")
    )


# Linked records


def link(other: str = "r-2", resident: str = "r-1") -> c.LinkResidents:
    return c.LinkResidents(
        at=AT, resident_id=resident, other_resident_id=other, evidence="Same NHS number.", decided_by="admin-1"
    )


def unlink(other: str = "r-2") -> c.UnlinkResidents:
    return c.UnlinkResidents(
        at=AT, resident_id="r-1", other_resident_id=other, evidence="Different people.", decided_by="admin-1"
    )


# The command path writes a link to this record's stream only, so its events say so (both_records=False).
LINKED = ResidentsLinked(resident_id="r-1", other_resident_id="r-2", evidence="Same NHS number.", decided_by="admin-1",
                         both_records=False)


def test_two_records_are_linked() -> None:
    given(REGISTERED).when(link()).then(LINKED)


def test_linking_again_writes_nothing() -> None:
    given(REGISTERED, LINKED).when(link()).then_nothing()


def test_a_record_cannot_be_linked_to_itself() -> None:
    error = given(REGISTERED).when(link(other="r-1")).then_raises(InvalidCommand)
    assert error.field == "other_resident_id"


def test_linked_records_are_unlinked() -> None:
    given(REGISTERED, LINKED).when(unlink()).then(
        ResidentsUnlinked(
            resident_id="r-1", other_resident_id="r-2", evidence="Different people.", decided_by="admin-1",
            both_records=False,
        )
    )


def test_unlinking_records_that_are_not_linked_is_refused() -> None:
    given(REGISTERED, LINKED).when(unlink(other="r-3")).then_raises(IllegalStep)


def test_after_unlinking_they_can_be_linked_again() -> None:
    unlinked = ResidentsUnlinked(
        resident_id="r-1", other_resident_id="r-2", evidence="Different people.", decided_by="admin-1",
        both_records=False,
    )
    given(REGISTERED, LINKED, unlinked).when(link()).then(LINKED)


# Duplication flags

FLAG = c.FlagDuplication(
    at=AT,
    flag_id="flag-parallel-1",
    rule="parallel_referrals",
    severity="high",
    references=["ref-1", "ref-2"],
    explanation="Two open referrals for mobility and falls, to falls and to ot.",
)
FLAGGED = DuplicationFlagged(
    flag_id="flag-parallel-1",
    rule="parallel_referrals",
    severity="high",
    references=["ref-1", "ref-2"],
    explanation="Two open referrals for mobility and falls, to falls and to ot.",
)
RESOLVED = DuplicationResolved(flag_id="flag-parallel-1", resolution="merged_work", by="coordinator-1")


def resolve(flag_id: str = "flag-parallel-1") -> c.ResolveFlag:
    return c.ResolveFlag(at=AT, flag_id=flag_id, resolution="merged_work", by="coordinator-1")


def test_the_detector_flags_duplication_once() -> None:
    given(REGISTERED).when(FLAG).then(FLAGGED)


def test_the_same_flag_id_again_writes_nothing() -> None:
    given(REGISTERED, FLAGGED).when(FLAG).then_nothing()


def test_the_same_flag_id_after_it_was_resolved_writes_nothing() -> None:
    given(REGISTERED, FLAGGED, RESOLVED).when(FLAG).then_nothing()


def test_a_flag_is_resolved() -> None:
    given(REGISTERED, FLAGGED).when(resolve()).then(RESOLVED)


def test_resolving_an_unknown_flag_is_not_found() -> None:
    given(REGISTERED, FLAGGED).when(resolve("flag-other")).then_raises(WorkNotFound)


def test_resolving_a_flag_twice_is_refused() -> None:
    given(REGISTERED, FLAGGED, RESOLVED).when(resolve()).then_raises(IllegalStep)


def test_a_resolved_flag_replayed_by_the_detector_stays_resolved() -> None:
    given(REGISTERED, FLAGGED, RESOLVED, FLAGGED).when(resolve()).then_raises(IllegalStep)
