"""Events on the wire: the envelope round trip, the headers, reading v0 contacts as v1, and what the catalogue
refuses. Also the NHS number check the edge applies before a command is built."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from events.catalogue import Caller, ContactRecorded, ReferralMade, ResidentRegistered
from events.codec import MSG_ID_HEADER, TYPE_HEADER, UnknownEventType, decode, encode, to_event, wrap
from events.envelope import Actor, Envelope
from frontdoor.domain.nhs import normalise_nhs_number

OCCURRED = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
RECORDED = datetime(2025, 3, 10, 9, 30, 2, 250000, tzinfo=UTC)
HANDLER = Actor(id="call-handler-1", role="call_handler", team_id="front-door")

CONTACT = ContactRecorded(
    contact_id="contact-1",
    channel="phone",
    caller=Caller(relationship="daughter", name="Byron"),
    needs=["mobility and falls", "carer support"],
    urgency="soon",
    safeguarding=True,
    summary="Two falls this month; daughter is struggling to cope.",
    outcome="referred",
)


def wrapped(event: ContactRecorded | ResidentRegistered = CONTACT) -> Envelope:
    return wrap(
        event,
        event_id="evt-1",
        resident_id="res-1",
        actor=HANDLER,
        occurred_at=OCCURRED,
        correlation_id="corr-1",
        causation_id="cmd-1",
        recorded_at=RECORDED,
    )


def test_wrap_fills_the_envelope_from_the_event_and_the_arguments() -> None:
    envelope = wrapped()
    assert (envelope.type, envelope.version, envelope.event_id, envelope.resident_id) == (
        "ContactRecorded",
        1,
        "evt-1",
        "res-1",
    )
    assert envelope.data["needs"] == ["mobility and falls", "carer support"]


def test_an_encoded_event_decodes_with_every_envelope_field_and_the_same_fact() -> None:
    envelope = wrapped()
    payload, _ = encode(envelope)
    recorded = decode(42, payload)
    assert recorded.seq == 42
    assert recorded.envelope == envelope
    assert recorded.envelope.model_dump() == {
        "event_id": "evt-1",
        "type": "ContactRecorded",
        "version": 1,
        "resident_id": "res-1",
        "occurred_at": OCCURRED,
        "recorded_at": RECORDED,
        "actor": {"id": "call-handler-1", "role": "call_handler", "team_id": "front-door"},
        "correlation_id": "corr-1",
        "causation_id": "cmd-1",
        "data": CONTACT.model_dump(mode="json"),
    }
    assert recorded.event == CONTACT


def test_dates_survive_the_round_trip_as_dates() -> None:
    registered = ResidentRegistered(
        given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10), postcode="LS1 4AB"
    )
    payload, _ = encode(wrapped(registered))
    assert decode(1, payload).event == registered


def test_the_envelope_json_has_exactly_the_agreed_keys() -> None:
    payload, _ = encode(wrapped())
    assert set(json.loads(payload)) == {
        "event_id",
        "type",
        "version",
        "resident_id",
        "occurred_at",
        "recorded_at",
        "actor",
        "correlation_id",
        "causation_id",
        "data",
    }


def test_headers_carry_the_event_id_for_dedupe_and_the_type_for_routers() -> None:
    _, headers = encode(wrapped())
    assert headers[MSG_ID_HEADER] == "evt-1"
    assert headers[TYPE_HEADER] == "ContactRecorded"
    assert (MSG_ID_HEADER, TYPE_HEADER) == ("Nats-Msg-Id", "Frontdoor-Type")


def test_a_v0_contact_with_a_single_need_is_read_as_v1_with_a_list_of_needs() -> None:
    v0 = {
        "event_id": "evt-old",
        "type": "ContactRecorded",
        "version": 0,
        "resident_id": "res-1",
        "occurred_at": "2024-06-01T10:00:00Z",
        "recorded_at": "2024-06-01T10:00:01Z",
        "actor": {"id": "call-handler-1", "role": "call_handler", "team_id": None},
        "correlation_id": "corr-old",
        "causation_id": None,
        "data": {
            "contact_id": "contact-old",
            "channel": "phone",
            "caller": {"relationship": "self"},
            "need": "housing",
            "outcome": "signposted",
        },
    }
    recorded = decode(7, json.dumps(v0).encode())
    assert recorded.envelope.version == 0
    assert recorded.event == ContactRecorded(
        contact_id="contact-old",
        channel="phone",
        caller=Caller(relationship="self"),
        needs=["housing"],
        outcome="signposted",
    )


def test_an_unknown_event_type_is_refused() -> None:
    envelope = wrapped().model_copy(update={"type": "ResidentTeleported"})
    with pytest.raises(UnknownEventType, match="ResidentTeleported"):
        to_event(envelope)


def test_decoding_an_unknown_event_type_is_refused() -> None:
    payload, _ = encode(wrapped().model_copy(update={"type": "ResidentTeleported"}))
    with pytest.raises(UnknownEventType):
        decode(1, payload)


def test_events_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        CONTACT.summary = "rewritten history"  # type: ignore[misc]
    assert CONTACT.summary == "Two falls this month; daughter is struggling to cope."


def test_events_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ReferralMade.model_validate({"referral_id": "ref-1", "to_team": "falls", "need": "housing", "priority": "high"})


def test_a_summary_over_2000_characters_is_rejected() -> None:
    fields = CONTACT.model_dump()
    assert ContactRecorded.model_validate({**fields, "summary": "x" * 2000}).summary == "x" * 2000
    with pytest.raises(ValidationError, match="summary"):
        ContactRecorded.model_validate({**fields, "summary": "x" * 2001})


def test_an_nhs_number_with_spaces_is_normalised() -> None:
    assert normalise_nhs_number("943 476 5919") == "9434765919"


def test_an_nhs_number_with_a_wrong_check_digit_is_rejected() -> None:
    with pytest.raises(ValueError, match="check digit"):
        normalise_nhs_number("943 476 5918")


def test_a_nine_digit_nhs_number_is_rejected() -> None:
    with pytest.raises(ValueError, match="10 digits"):
        normalise_nhs_number("943476591")


@pytest.mark.parametrize("event_type", ["ResidentsLinked", "ResidentsUnlinked"])
def test_a_v1_link_written_to_one_record_is_read_as_v2_saying_so(event_type: str) -> None:
    data = {"resident_id": "a", "other_resident_id": "b", "evidence": "same person", "decided_by": "admin-1"}
    envelope = wrapped().model_copy(update={"type": event_type, "version": 1, "data": data})
    event = to_event(envelope)
    assert type(event).__name__ == event_type and event.version == 2
    assert event.model_dump() == data | {"both_records": False}


def test_a_new_link_says_it_is_on_both_records() -> None:
    from events.catalogue import ResidentsLinked

    event = ResidentsLinked(resident_id="a", other_resident_id="b", evidence="same person", decided_by="admin-1")
    assert event.both_records and wrap(event, event_id="e", resident_id="a", actor=HANDLER, occurred_at=OCCURRED,
                                       correlation_id="c").version == 2
