"""The near misses: stories that look like duplicate work (DESIGN §5) but are not, where every rule must stay
quiet. Each is one step away from a story in test_rules_fire.py that does raise a flag."""

from __future__ import annotations

import pytest

from events.catalogue import Event
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
    withdrawn,
)

# 1. Parallel referrals


def test_open_referrals_to_different_teams_for_different_needs_are_not_parallel() -> None:
    (
        given(on(0, referral("ref-1", to="falls", need="mobility and falls")))
        .when(referral("ref-2", to="housing", need="housing"), on_day=3)
        .then_no_flag()
    )


def test_a_second_referral_to_the_same_team_for_the_same_need_is_not_parallel() -> None:
    given(on(0, referral("ref-1", to="falls"))).when(referral("ref-2", to="falls"), on_day=3).then_no_flag()


@pytest.mark.parametrize(
    "closing",
    [[accepted("ref-1", by="falls"), completed("ref-1", by="falls")], [withdrawn("ref-1")],
     [declined("ref-1", by="falls")]],
    ids=["completed", "withdrawn", "declined"],
)
def test_a_referral_closed_before_the_next_was_made_is_not_parallel(closing: list[Event]) -> None:
    (
        given(on(0, referral("ref-1", to="falls")), *(on(5, event) for event in closing))
        .when(referral("ref-2", to="ot"), on_day=6)
        .then_no_flag()
    )


def test_a_handoff_that_moves_the_only_open_referral_is_not_parallel() -> None:
    # ref-1 still names ot, but it is finished; ref-2 moving there makes one open referral, not two.
    (
        given(on(0, referral("ref-1", to="ot")), on(10, completed("ref-1", by="ot")),
              on(20, referral("ref-2", to="falls")))
        .when(handed_off("ref-2", from_team="falls", to="ot"), on_day=22)
        .then_no_flag()
    )


def test_parallel_referrals_are_no_longer_duplicated_once_one_is_withdrawn() -> None:
    flag = open_flag("parallel_referrals", ["ref-1", "ref-2"])
    both_open = given(on(0, referral("ref-1", to="falls")), on(2, referral("ref-2", to="ot")))
    one_withdrawn = given(*both_open.history, on(4, withdrawn("ref-2")))

    assert still_duplicated(both_open.view, flag)
    assert not still_duplicated(one_withdrawn.view, flag)


def test_parallel_referrals_are_no_longer_duplicated_once_handed_to_the_same_team() -> None:
    flag = open_flag("parallel_referrals", ["ref-1", "ref-2"])
    story = given(on(0, referral("ref-1", to="falls")), on(2, referral("ref-2", to="ot")),
                  on(4, handed_off("ref-2", from_team="ot", to="falls")))

    assert not still_duplicated(story.view, flag)


# 2. Repeat assessment


def test_the_same_kind_of_assessment_29_days_later_is_not_a_repeat() -> None:
    (
        given(on(0, assessment("as-1", by="ot", kind="OT")))
        .when(assessment("as-2", by="falls", kind="OT"), on_day=29)
        .then_no_flag()
    )


def test_the_same_kind_of_assessment_28_days_and_an_hour_later_is_not_a_repeat() -> None:
    (
        given(on(0, assessment("as-1", by="ot", kind="OT")))
        .when(assessment("as-2", by="falls", kind="OT"), on_day=28 + 1 / 24)
        .then_no_flag()
    )


def test_a_different_kind_of_assessment_within_28_days_is_not_a_repeat() -> None:
    (
        given(on(0, assessment("as-1", by="falls", kind="falls")))
        .when(assessment("as-2", by="falls", kind="OT"), on_day=3)
        .then_no_flag()
    )


# 3. Tell my story again


def test_two_contacts_about_one_need_are_not_telling_the_story_again() -> None:
    given(on(0, contact("call-1", "housing"))).when(contact("call-2", "housing"), on_day=1).then_no_flag()


def test_three_contacts_spread_over_20_days_are_not_telling_the_story_again() -> None:
    (
        given(on(0, contact("call-1", "housing")), on(10, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=20)
        .then_no_flag()
    )


def test_three_contacts_spanning_14_days_and_an_hour_are_not_telling_the_story_again() -> None:
    (
        given(on(0, contact("call-1", "housing")), on(7, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=14 + 1 / 24)
        .then_no_flag()
    )


@pytest.mark.parametrize("since", [[], [accepted("ref-1", by="housing")]], ids=["made", "accepted"])
def test_three_contacts_about_a_need_with_an_open_referral_are_not_telling_the_story_again(since: list[Event]) -> None:
    (
        given(on(0, contact("call-1", "housing")), on(1, referral("ref-1", to="housing", need="housing")),
              *(on(2, event) for event in since), on(3, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=5)
        .then_no_flag()
    )


def test_three_contacts_with_a_care_coordinator_are_not_telling_the_story_again() -> None:
    (
        given(on(0, contact("call-1", "housing")), on(1, coordinator(team="neighbourhood", worker="Tom Reid")),
              on(3, contact("call-2", "housing")))
        .when(contact("call-3", "housing"), on_day=5)
        .then_no_flag()
    )


def test_three_contacts_about_three_different_needs_are_not_telling_the_story_again() -> None:
    (
        given(on(0, contact("call-1", "housing")), on(2, contact("call-2", "carer support")))
        .when(contact("call-3", "finance and benefits"), on_day=4)
        .then_no_flag()
    )


def test_a_fourth_contact_in_a_run_already_flagged_raises_no_second_flag() -> None:
    past = (on(0, contact("call-1", "housing")), on(2, contact("call-2", "housing")))
    first = given(*past).when(contact("call-3", "housing"), on_day=4).then_flags(
        "tell_my_story_again", ["call-1", "call-2", "call-3"])
    (
        given(*past, on(4, contact("call-3", "housing")), on(4, flagged(first)))
        .when(contact("call-4", "housing"), on_day=6)
        .then_no_flag()
    )


# 4. Handoff ping-pong


def test_a_referral_handed_on_to_a_new_team_is_not_ping_pong() -> None:
    (
        given(on(0, referral("ref-1", to="falls")), on(2, handed_off("ref-1", from_team="falls", to="ot")))
        .when(handed_off("ref-1", from_team="ot", to="physio"), on_day=5)
        .then_no_flag()
    )


def test_a_referral_handed_back_more_than_30_days_after_it_left_is_not_ping_pong() -> None:
    (
        given(on(0, referral("ref-1", to="falls")), on(1, handed_off("ref-1", from_team="falls", to="ot")),
              on(2, accepted("ref-1", by="ot")))
        .when(handed_off("ref-1", from_team="ot", to="falls"), on_day=32)
        .then_no_flag()
    )


# 5. Two coordinators


def test_the_same_worker_and_team_on_a_linked_record_is_one_coordinator() -> None:
    theirs = given(on(0, coordinator(team="dementia", worker="Priya Shah"))).view
    ours = coordinator_of(team="dementia", worker="Priya Shah")

    assert two_coordinators("resident-a", ours, {"resident-b": theirs}) == []


def test_a_linked_record_without_a_coordinator_is_not_two_coordinators() -> None:
    theirs = given(on(0, contact("call-1", "housing"))).view
    ours = coordinator_of(team="dementia", worker="Priya Shah")

    assert two_coordinators("resident-a", ours, {"resident-b": theirs}) == []


def test_a_record_without_a_coordinator_is_not_two_coordinators() -> None:
    theirs = given(on(0, coordinator(team="dementia", worker="Priya Shah"))).view

    assert two_coordinators("resident-a", None, {"resident-b": theirs}) == []
