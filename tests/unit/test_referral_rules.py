"""The referral life cycle: made -> accepted | declined | withdrawn; accepted -> completed | handed off.
A handoff opens the work at the new team, which must accept it in turn."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from events.catalogue import (
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
    ResidentRegistered,
)
from events.vocabulary import Need
from frontdoor.domain import commands as c
from frontdoor.domain.errors import IllegalStep, InvalidCommand, NotYourWork, WorkNotFound
from tests.unit.given_when_then import given

AT = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)

REGISTERED = ResidentRegistered(
    given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10), postcode="LS1 4AB"
)
MADE = ReferralMade(
    referral_id="ref-1",
    to_team="falls",
    need="mobility and falls",
    urgency="soon",
    reason="Two falls this month.",
    contact_id="contact-1",
)
ACCEPTED = ReferralAccepted(referral_id="ref-1", team="falls")
HANDED_OFF = ReferralHandedOff(referral_id="ref-1", from_team="falls", to_team="ot", reason="Needs home adaptations.")


def accept(team: str = "falls", referral_id: str = "ref-1") -> c.AcceptReferral:
    return c.AcceptReferral(at=AT, referral_id=referral_id, by_team=team)


def decline(team: str = "falls") -> c.DeclineReferral:
    return c.DeclineReferral(at=AT, referral_id="ref-1", by_team=team, reason="Not eligible.")


def complete(team: str = "falls") -> c.CompleteReferral:
    return c.CompleteReferral(at=AT, referral_id="ref-1", by_team=team, outcome="Falls plan in place.")


def withdraw(team: str | None = None) -> c.WithdrawReferral:
    return c.WithdrawReferral(at=AT, referral_id="ref-1", by_team=team, reason="Resident moved away.")


def hand_off(team: str = "falls", to_team: str = "ot") -> c.HandOffReferral:
    return c.HandOffReferral(
        at=AT, referral_id="ref-1", by_team=team, to_team=to_team, reason="Needs home adaptations."
    )


def make(referral_id: str = "ref-1", to_team: str = "falls", need: Need = "mobility and falls") -> c.MakeReferral:
    return c.MakeReferral(
        at=AT,
        referral_id=referral_id,
        to_team=to_team,
        need=need,
        urgency="soon",
        reason="Two falls this month.",
        contact_id="contact-1",
    )


# Made


def test_a_referral_is_made() -> None:
    given(REGISTERED).when(make()).then(MADE)


def test_the_same_referral_id_again_writes_nothing() -> None:
    given(REGISTERED, MADE).when(make()).then_nothing()


def test_a_second_open_referral_to_the_same_team_for_the_same_need_is_refused() -> None:
    error = given(REGISTERED, MADE).when(make(referral_id="ref-2")).then_raises(IllegalStep)
    assert error.extra == {"referral_id": "ref-1"}


def test_an_accepted_referral_still_counts_as_open_for_the_same_team_and_need() -> None:
    given(REGISTERED, MADE, ACCEPTED).when(make(referral_id="ref-2")).then_raises(IllegalStep)


def test_the_same_need_to_another_team_is_a_new_referral() -> None:
    given(REGISTERED, MADE).when(make(referral_id="ref-2", to_team="ot")).then(
        MADE.model_copy(update={"referral_id": "ref-2", "to_team": "ot"})
    )


def test_another_need_to_the_same_team_is_a_new_referral() -> None:
    given(REGISTERED, MADE).when(make(referral_id="ref-2", need="long-term condition")).then(
        MADE.model_copy(update={"referral_id": "ref-2", "need": "long-term condition"})
    )


def test_once_the_first_referral_has_ended_the_team_can_be_asked_again() -> None:
    closed = ReferralDeclined(referral_id="ref-1", team="falls", reason="Not eligible.")
    given(REGISTERED, MADE, closed).when(make(referral_id="ref-2")).then(
        MADE.model_copy(update={"referral_id": "ref-2"})
    )


# Made -> accepted | declined | withdrawn


def test_the_team_it_was_made_to_accepts_it() -> None:
    given(REGISTERED, MADE).when(accept()).then(ReferralAccepted(referral_id="ref-1", team="falls"))


def test_the_team_it_was_made_to_declines_it() -> None:
    given(REGISTERED, MADE).when(decline()).then(
        ReferralDeclined(referral_id="ref-1", team="falls", reason="Not eligible.")
    )


def test_the_front_door_withdraws_a_waiting_referral() -> None:
    given(REGISTERED, MADE).when(withdraw()).then(
        ReferralWithdrawn(referral_id="ref-1", team="falls", reason="Resident moved away.")
    )


# Accepted -> completed | handed off


def test_an_accepted_referral_is_completed() -> None:
    given(REGISTERED, MADE, ACCEPTED).when(complete()).then(
        ReferralCompleted(referral_id="ref-1", team="falls", outcome="Falls plan in place.")
    )


def test_an_accepted_referral_is_handed_off_to_another_team() -> None:
    given(REGISTERED, MADE, ACCEPTED).when(hand_off()).then(HANDED_OFF)


def test_an_accepted_referral_can_still_be_withdrawn() -> None:
    given(REGISTERED, MADE, ACCEPTED).when(withdraw("falls")).then(
        ReferralWithdrawn(referral_id="ref-1", team="falls", reason="Resident moved away.")
    )


# A handoff opens the work at the new team


def test_after_a_handoff_the_new_team_must_accept_it() -> None:
    given(REGISTERED, MADE, ACCEPTED, HANDED_OFF).when(accept("ot")).then(
        ReferralAccepted(referral_id="ref-1", team="ot")
    )


def test_after_a_handoff_the_new_team_cannot_complete_before_accepting() -> None:
    given(REGISTERED, MADE, ACCEPTED, HANDED_OFF).when(complete("ot")).then_raises(IllegalStep)


def test_after_a_handoff_the_old_team_no_longer_holds_the_work() -> None:
    given(REGISTERED, MADE, ACCEPTED, HANDED_OFF).when(complete("falls")).then_raises(NotYourWork)


def test_after_a_handoff_the_new_team_may_decline_it() -> None:
    given(REGISTERED, MADE, ACCEPTED, HANDED_OFF).when(decline("ot")).then(
        ReferralDeclined(referral_id="ref-1", team="ot", reason="Not eligible.")
    )


def test_the_handed_off_referral_is_open_at_the_new_team_for_its_need() -> None:
    given(REGISTERED, MADE, ACCEPTED, HANDED_OFF).when(make(referral_id="ref-2", to_team="ot")).then_raises(IllegalStep)


def test_once_handed_on_and_accepted_the_new_team_hands_it_on_again() -> None:
    history = (REGISTERED, MADE, ACCEPTED, HANDED_OFF, ReferralAccepted(referral_id="ref-1", team="ot"))
    given(*history).when(hand_off("ot", "housing")).then(
        ReferralHandedOff(referral_id="ref-1", from_team="ot", to_team="housing", reason="Needs home adaptations.")
    )


# Illegal steps


def test_a_withdrawn_referral_cannot_be_accepted() -> None:
    withdrawn = ReferralWithdrawn(referral_id="ref-1", team="falls", reason="Resident moved away.")
    error = given(REGISTERED, MADE, withdrawn).when(accept()).then_raises(IllegalStep)
    assert error.extra == {"current_status": "withdrawn"}


def test_a_referral_never_accepted_cannot_be_completed() -> None:
    given(REGISTERED, MADE).when(complete()).then_raises(IllegalStep)


def test_an_accepted_referral_cannot_be_declined() -> None:
    given(REGISTERED, MADE, ACCEPTED).when(decline()).then_raises(IllegalStep)


def test_a_referral_cannot_be_accepted_twice() -> None:
    given(REGISTERED, MADE, ACCEPTED).when(accept()).then_raises(IllegalStep)


def test_a_waiting_referral_cannot_be_handed_off() -> None:
    given(REGISTERED, MADE).when(hand_off()).then_raises(IllegalStep)


def test_a_completed_referral_cannot_be_withdrawn() -> None:
    done = ReferralCompleted(referral_id="ref-1", team="falls", outcome="Falls plan in place.")
    given(REGISTERED, MADE, ACCEPTED, done).when(withdraw()).then_raises(IllegalStep)


def test_a_handoff_to_the_same_team_is_invalid() -> None:
    error = given(REGISTERED, MADE, ACCEPTED).when(hand_off("falls", "falls")).then_raises(InvalidCommand)
    assert error.field == "to_team"


# Whose work it is


@pytest.mark.parametrize(
    "command",
    [accept("ot"), decline("ot"), complete("ot"), hand_off("ot", "housing"), withdraw("ot")],
    ids=["accept", "decline", "complete", "hand off", "withdraw"],
)
def test_a_team_cannot_act_on_work_not_addressed_to_it(command: c.Command) -> None:
    given(REGISTERED, MADE, ACCEPTED).when(command).then_raises(NotYourWork)


def test_the_referring_team_may_withdraw_its_own_referral() -> None:
    made_by_gp = MADE.model_copy(update={"from_team": "gp-b86001"})
    given(REGISTERED, made_by_gp).when(withdraw("gp-b86001")).then(
        ReferralWithdrawn(referral_id="ref-1", team="falls", reason="Resident moved away.")
    )


# Unknown work


@pytest.mark.parametrize(
    "command",
    [accept(referral_id="ref-9"), c.WithdrawReferral(at=AT, referral_id="ref-9", reason="x")],
    ids=["accept", "withdraw"],
)
def test_an_unknown_referral_is_not_found(command: c.Command) -> None:
    given(REGISTERED, MADE).when(command).then_raises(WorkNotFound)
