"""The resident's own record: registration, corrections, consent and contacts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from events.catalogue import (
    Caller,
    ConsentRecorded,
    ContactRecorded,
    ResidentDetailsCorrected,
    ResidentRegistered,
)
from frontdoor.domain import commands as c
from frontdoor.domain.errors import AlreadyRegistered, InvalidCommand, ResidentNotFound
from tests.unit.given_when_then import given

AT = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)

REGISTERED = ResidentRegistered(
    nhs_number="9434765919",
    given_name="Ada",
    family_name="Lovelace",
    date_of_birth=date(1941, 12, 10),
    postcode="LS1 4AB",
    gp_practice="B86001",
    cluster="leeds-central",
)

REGISTER = c.RegisterResident(
    at=AT,
    nhs_number="9434765919",
    given_name="Ada",
    family_name="Lovelace",
    date_of_birth=date(1941, 12, 10),
    postcode="LS1 4AB",
    gp_practice="B86001",
    cluster="leeds-central",
)

DAUGHTER = Caller(relationship="daughter", name="Byron")

RECORD_CONTACT = c.RecordContact(
    at=AT,
    contact_id="contact-1",
    channel="phone",
    caller=DAUGHTER,
    needs=["mobility and falls", "carer support"],
    urgency="soon",
    safeguarding=False,
    summary="Two falls this month; daughter is struggling to cope.",
    outcome="referred",
)

CONTACT_RECORDED = ContactRecorded(
    contact_id="contact-1",
    channel="phone",
    caller=DAUGHTER,
    needs=["mobility and falls", "carer support"],
    urgency="soon",
    safeguarding=False,
    summary="Two falls this month; daughter is struggling to cope.",
    outcome="referred",
)


# Registration


def test_registering_a_new_resident_records_every_detail() -> None:
    given().when(REGISTER).then(REGISTERED)


def test_registering_without_an_nhs_number_is_allowed() -> None:
    command = c.RegisterResident(
        at=AT, given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10), postcode="LS1 4AB"
    )
    given().when(command).then(
        ResidentRegistered(
            given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10), postcode="LS1 4AB"
        )
    )


def test_a_date_of_birth_in_the_future_is_invalid() -> None:
    command = REGISTER.model_copy(update={"date_of_birth": date(2025, 3, 11)})
    error = given().when(command).then_raises(InvalidCommand)
    assert error.field == "date_of_birth"


def test_a_date_of_birth_of_today_is_allowed() -> None:
    command = REGISTER.model_copy(update={"date_of_birth": AT.date()})
    given().when(command).then(REGISTERED.model_copy(update={"date_of_birth": AT.date()}))


def test_registering_the_same_resident_twice_is_refused() -> None:
    given(REGISTERED).when(REGISTER).then_raises(AlreadyRegistered)


UNREGISTERED_COMMANDS: list[c.Command] = [
    c.CorrectDetails(at=AT, postcode="LS2 9JT"),
    c.RecordConsent(at=AT, decision="granted", scope=["all_partners"], basis="explicit", recorded_by="call-handler-1"),
    RECORD_CONTACT,
    c.MakeReferral(at=AT, referral_id="ref-1", to_team="falls", need="mobility and falls", urgency="soon", reason="x"),
    c.AcceptReferral(at=AT, referral_id="ref-1", by_team="falls"),
    c.DeclineReferral(at=AT, referral_id="ref-1", by_team="falls", reason="x"),
    c.CompleteReferral(at=AT, referral_id="ref-1", by_team="falls", outcome="x"),
    c.WithdrawReferral(at=AT, referral_id="ref-1", reason="x"),
    c.HandOffReferral(at=AT, referral_id="ref-1", by_team="falls", to_team="ot", reason="x"),
    c.StartAssessment(at=AT, assessment_id="as-1", team="ot", kind="OT"),
    c.CompleteAssessment(at=AT, assessment_id="as-1", outcome="x"),
    c.AssignCareCoordinator(at=AT, team_id="adult-social-care", worker="Sam"),
    c.LinkResidents(at=AT, resident_id="r-1", other_resident_id="r-2", evidence="x", decided_by="admin"),
    c.UnlinkResidents(at=AT, resident_id="r-1", other_resident_id="r-2", evidence="x", decided_by="admin"),
    c.ResolveFlag(at=AT, flag_id="flag-1", resolution="not_a_duplicate", by="admin"),
    c.FlagDuplication(
        at=AT, flag_id="flag-1", rule="parallel_referrals", severity="high", references=["ref-1"], explanation="x"
    ),
]


@pytest.mark.parametrize("command", UNREGISTERED_COMMANDS, ids=lambda command: type(command).__name__)
def test_any_command_on_an_unregistered_resident_finds_no_resident(command: c.Command) -> None:
    given().when(command).then_raises(ResidentNotFound)


# Corrections


def test_a_correction_writes_only_the_fields_that_changed() -> None:
    command = c.CorrectDetails(
        at=AT,
        given_name="Ada",  # unchanged
        family_name="King",
        postcode="LS1 4AB",  # unchanged
        cluster="leeds-north",
        reason="Married name; moved cluster.",
    )
    given(REGISTERED).when(command).then(
        ResidentDetailsCorrected(family_name="King", cluster="leeds-north", reason="Married name; moved cluster.")
    )


def test_a_correction_compares_with_the_record_as_already_corrected() -> None:
    given(REGISTERED, ResidentDetailsCorrected(postcode="LS2 9JT")).when(
        c.CorrectDetails(at=AT, postcode="LS2 9JT")
    ).then_nothing()


def test_a_correction_that_changes_nothing_writes_nothing() -> None:
    command = c.CorrectDetails(
        at=AT, given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10), reason="Checked with GP."
    )
    given(REGISTERED).when(command).then_nothing()


def test_a_correction_to_a_date_of_birth_in_the_future_is_invalid() -> None:
    error = given(REGISTERED).when(c.CorrectDetails(at=AT, date_of_birth=date(2030, 1, 1))).then_raises(InvalidCommand)
    assert error.field == "date_of_birth"


# Consent


def test_consent_is_recorded_as_given() -> None:
    command = c.RecordConsent(
        at=AT, decision="granted", scope=["nhs-trust", "council"], basis="explicit", recorded_by="call-handler-1"
    )
    given(REGISTERED).when(command).then(
        ConsentRecorded(
            decision="granted", scope=["nhs-trust", "council"], basis="explicit", recorded_by="call-handler-1"
        )
    )


def test_consent_can_be_withdrawn_after_it_was_granted() -> None:
    granted = ConsentRecorded(decision="granted", recorded_by="call-handler-1")
    command = c.RecordConsent(
        at=AT, decision="withdrawn", scope=["all_partners"], basis="explicit", recorded_by="call-handler-2"
    )
    given(REGISTERED, granted).when(command).then(
        ConsentRecorded(decision="withdrawn", scope=["all_partners"], basis="explicit", recorded_by="call-handler-2")
    )


# Contacts


def test_a_contact_is_recorded() -> None:
    given(REGISTERED).when(RECORD_CONTACT).then(CONTACT_RECORDED)


def test_a_repeated_contact_id_writes_nothing() -> None:
    given(REGISTERED, CONTACT_RECORDED).when(RECORD_CONTACT).then_nothing()


def test_a_different_contact_id_is_a_new_contact() -> None:
    second = RECORD_CONTACT.model_copy(update={"contact_id": "contact-2"})
    given(REGISTERED, CONTACT_RECORDED).when(second).then(
        CONTACT_RECORDED.model_copy(update={"contact_id": "contact-2"})
    )
