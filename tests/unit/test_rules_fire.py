"""The duplicate-work rules (DESIGN §5) fire: each story ends at the event where the duplication first shows.
The stories where a rule must stay quiet are in test_rules_near_misses.py."""

from __future__ import annotations

import pytest

from events.catalogue import Event
from events.vocabulary import Urgency
from projections.rules import still_duplicated, two_coordinators
from tests.unit.rules_story import (
    accepted,
    assessment,
    completed,
    contact,
    coordinator,
    coordinator_of,
    declined,
    flagged,
    given,
    handed_off,
    on,
    open_flag,
    referral,
)

# 1. Parallel referrals: two open referrals for one need, to different teams.


def test_a_second_open_referral_for_the_same_need_to_another_team_is_parallel() -> None:
    finding = (
        given(on(0, referral("ref-b", to="falls")))
        .when(referral("ref-a", to="ot"), on_day=3)
        .then_flags("parallel_referrals", ["ref-a", "ref-b"])  # sorted, not in the order they were made
    )
    assert finding.severity == "medium"


@pytest.mark.parametrize(("first", "second"), [("urgent", "routine"), ("routine", "urgent")])
def test_parallel_referrals_are_high_severity_when_either_is_urgent(first: Urgency, second: Urgency) -> None:
    finding = (
        given(on(0, referral("ref-1", to="falls", urgency=first)))
        .when(referral("ref-2", to="ot", urgency=second), on_day=3)
        .then_flags("parallel_referrals", ["ref-1", "ref-2"])
    )
    assert finding.severity == "high"


def test_parallel_referrals_are_medium_severity_when_the_most_pressing_is_soon() -> None:
    finding = (
        given(on(0, referral("ref-1", to="falls", urgency="soon")))
        .when(referral("ref-2", to="ot", urgency="soon"), on_day=3)
        .then_flags("parallel_referrals", ["ref-1", "ref-2"])
    )
    assert finding.severity == "medium"


def test_an_accepted_referral_is_still_open_work() -> None:
    (
        given(on(0, referral("ref-1", to="falls")), on(1, accepted("ref-1", by="falls")))
        .when(referral("ref-2", to="ot"), on_day=3)
        .then_flags("parallel_referrals", ["ref-1", "ref-2"])
    )


def test_a_handoff_that_puts_a_referral_beside_another_teams_open_one_is_parallel() -> None:
    # Two referrals to the same team are not this rule; handing one on to a second team makes them parallel.
    (
        given(on(0, referral("ref-1", to="ot")), on(1, referral("ref-2", to="falls")))
        .when(handed_off("ref-1", from_team="ot", to="physio"), on_day=4)
        .then_flags("parallel_referrals", ["ref-1", "ref-2"])
    )


def test_parallel_referrals_are_still_duplicated_while_both_are_open() -> None:
    story = given(on(0, referral("ref-1", to="falls")), on(2, referral("ref-2", to="ot")),
                  on(3, accepted("ref-1", by="falls")))
    assert still_duplicated(story.view, open_flag("parallel_referrals", ["ref-1", "ref-2"]))


# 2. Repeat assessment: the same kind started again within 28 days, by another team or the same one.


def test_the_same_kind_of_assessment_started_by_a_second_team_within_28_days_is_a_repeat() -> None:
    (
        given(on(0, assessment("as-b", by="falls", kind="falls")))
        .when(assessment("as-a", by="physio", kind="falls"), on_day=10)
        .then_flags("repeat_assessment", ["as-b", "as-a"])  # the earlier first, whatever the ids
    )


def test_the_same_team_starting_the_same_kind_again_within_28_days_is_a_repeat() -> None:
    (
        given(on(0, assessment("as-1", by="ot", kind="OT")))
        .when(assessment("as-2", by="ot", kind="OT"), on_day=20)
        .then_flags("repeat_assessment", ["as-1", "as-2"])
    )


def test_an_assessment_started_exactly_28_days_after_another_is_a_repeat() -> None:
    # The boundary: "within 28 days" is inclusive (`<= 28 days`), to the minute.
    (
        given(on(0, assessment("as-1", by="ot", kind="OT")))
        .when(assessment("as-2", by="falls", kind="OT"), on_day=28)
        .then_flags("repeat_assessment", ["as-1", "as-2"])
    )


def test_a_repeat_names_the_latest_earlier_assessment() -> None:
    (
        given(on(0, assessment("as-1", by="ot", kind="OT")), on(10, assessment("as-2", by="ot", kind="OT")))
        .when(assessment("as-3", by="falls", kind="OT"), on_day=20)
        .then_flags("repeat_assessment", ["as-2", "as-3"])
    )


# 3. Tell my story again: three contacts about one need within 14 days, nobody holding it.


def test_a_third_contact_about_one_need_within_14_days_is_telling_the_story_again() -> None:
    finding = (
        given(on(0, contact("call-1", "housing")), on(4, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=9)
        .then_flags("tell_my_story_again", ["call-1", "call-2", "call-3"])
    )
    assert finding.severity == "medium"


def test_the_contacts_are_named_in_the_order_they_happened_not_the_order_they_were_recorded() -> None:
    # call-b was keyed in late: it happened first.
    (
        given(on(3, contact("call-c", "housing")), on(1, contact("call-b", "housing")))
        .when(contact("call-a", "housing"), on_day=5)
        .then_flags("tell_my_story_again", ["call-b", "call-c", "call-a"])
    )


def test_three_contacts_spanning_exactly_14_days_are_telling_the_story_again() -> None:
    # The boundary: "within 14 days" is inclusive (`<= 14 days`).
    (
        given(on(0, contact("call-1", "housing")), on(7, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=14)
        .then_flags("tell_my_story_again", ["call-1", "call-2", "call-3"])
    )


def test_contacts_about_several_needs_count_for_each_need_they_mention() -> None:
    (
        given(on(0, contact("call-1", "housing", "social isolation")), on(2, contact("call-2", "carer support",
                                                                                     "social isolation")))
        .when(contact("call-3", "social isolation"), on_day=4)
        .then_flags("tell_my_story_again", ["call-1", "call-2", "call-3"])
    )


@pytest.mark.parametrize("closed", [completed("ref-1", by="housing"), declined("ref-1", by="housing")],
                         ids=["completed", "declined"])
def test_a_referral_for_the_need_that_is_no_longer_open_does_not_hold_it(closed: Event) -> None:
    (
        given(on(0, referral("ref-1", to="housing", need="housing")), on(1, closed),
              on(2, contact("call-1", "housing")), on(4, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=6)
        .then_flags("tell_my_story_again", ["call-1", "call-2", "call-3"])
    )


def test_a_contact_typed_up_late_that_makes_three_within_14_days_is_telling_the_story_again() -> None:
    # call-a happened on day 4 but was keyed in after the calls of days 5 and 6.
    (
        given(on(5, contact("call-b", "housing")), on(6, contact("call-c", "housing")))
        .when(contact("call-a", "housing"), on_day=4)
        .then_flags("tell_my_story_again", ["call-a", "call-b", "call-c"])
    )


def test_a_run_about_another_need_sharing_a_call_with_a_flagged_run_is_telling_the_story_again() -> None:
    past = (on(0, contact("call-1", "housing")), on(1, contact("call-2", "housing")))
    housing = given(*past).when(contact("call-3", "housing", "carer support"), on_day=2).then_flags(
        "tell_my_story_again", ["call-1", "call-2", "call-3"])
    (
        given(*past, on(2, contact("call-3", "housing", "carer support")), on(2, flagged(housing)),
              on(3, contact("call-4", "carer support")))
        .when(contact("call-5", "carer support"), on_day=4)
        .then_flags("tell_my_story_again", ["call-3", "call-4", "call-5"])
    )


# 4. Handoff ping-pong: a referral handed back, within 30 days, to a team that already had it.


def test_a_referral_handed_back_to_the_team_that_just_had_it_is_ping_pong() -> None:
    finding = (
        given(on(0, referral("ref-1", to="falls")), on(2, handed_off("ref-1", from_team="falls", to="ot")))
        .when(handed_off("ref-1", from_team="ot", to="falls"), on_day=9)
        .then_flags("handoff_ping_pong", ["ref-1"])
    )
    assert finding.severity == "high"


def test_a_referral_coming_back_round_a_third_team_is_ping_pong() -> None:
    (
        given(on(0, referral("ref-1", to="falls")), on(2, handed_off("ref-1", from_team="falls", to="ot")),
              on(4, handed_off("ref-1", from_team="ot", to="physio")))
        .when(handed_off("ref-1", from_team="physio", to="ot"), on_day=6)
        .then_flags("handoff_ping_pong", ["ref-1"])
    )


def test_the_30_days_count_from_when_the_team_last_had_it_not_from_when_it_was_made() -> None:
    (
        given(on(0, referral("ref-1", to="falls")), on(1, accepted("ref-1", by="falls")),
              on(60, handed_off("ref-1", from_team="falls", to="ot")))
        .when(handed_off("ref-1", from_team="ot", to="falls"), on_day=75)
        .then_flags("handoff_ping_pong", ["ref-1"])
    )


def test_a_referral_handed_back_exactly_30_days_after_it_left_is_ping_pong() -> None:
    # The boundary: "within 30 days" is inclusive (`<= 30 days`).
    (
        given(on(0, referral("ref-1", to="falls")), on(1, handed_off("ref-1", from_team="falls", to="ot")))
        .when(handed_off("ref-1", from_team="ot", to="falls"), on_day=31)
        .then_flags("handoff_ping_pong", ["ref-1"])
    )


# 5. Two coordinators: linked records of one person with different care coordinators.


def test_a_linked_record_with_a_different_coordinator_is_two_coordinators() -> None:
    theirs = given(on(0, coordinator(team="dementia", worker="Priya Shah"))).view
    ours = coordinator_of(team="neighbourhood", worker="Tom Reid")

    findings = two_coordinators("resident-b", ours, {"resident-a": theirs})

    assert [(f.rule, f.references, f.severity) for f in findings] == [
        ("two_coordinators", ("resident-a", "resident-b"), "high")
    ]


def test_another_worker_in_the_same_team_on_a_linked_record_is_two_coordinators() -> None:
    theirs = given(on(0, coordinator(team="dementia", worker="Priya Shah"))).view
    ours = coordinator_of(team="dementia", worker="Tom Reid")

    findings = two_coordinators("resident-a", ours, {"resident-b": theirs})

    assert [(f.rule, f.references) for f in findings] == [("two_coordinators", ("resident-a", "resident-b"))]
