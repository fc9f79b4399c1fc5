"""The team feed payload, version 1 (DESIGN §9): free text goes only to the team the work is addressed to, the actor
is reduced to role and team, and every message fits the published schema."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from events.catalogue import (
    AssessmentCompleted,
    ContactRecorded,
    DuplicationFlagged,
    Event,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
    ResidentDetailsCorrected,
    ResidentRegistered,
    ResidentsLinked,
)
from events.codec import wrap
from events.envelope import Actor, Envelope
from projections.team_feed import FEED_DATA, FeedMessage, feed_message

SECRET = "the private words of the work"
CASES: list[tuple[Event, set[str]]] = [
    (ReferralMade(referral_id="r1", to_team="ot", need="housing", reason=SECRET), {"ot"}),
    (ReferralDeclined(referral_id="r1", team="ot", reason=SECRET), {"ot"}),
    (ReferralCompleted(referral_id="r1", team="ot", outcome=SECRET), {"ot"}),
    (ReferralWithdrawn(referral_id="r1", team="ot", reason=SECRET), {"ot"}),
    (ReferralWithdrawn(referral_id="r1", team=None, reason=SECRET), set()),
    (ReferralHandedOff(referral_id="r1", from_team="ot", to_team="dn", reason=SECRET), {"ot", "dn"}),
    (AssessmentCompleted(assessment_id="a1", team="ot", kind="falls", outcome=SECRET), {"ot"}),
    (DuplicationFlagged(flag_id="f", rule="parallel_referrals", severity="high", references=["r1"],
                        explanation=SECRET), set()),
    (ResidentsLinked(resident_id="x", other_resident_id="y", evidence=SECRET, decided_by="admin"), set()),
    (ResidentDetailsCorrected(postcode="SO14 7LY", reason=SECRET), set()),
]


def envelope(event: Event) -> Envelope:
    return wrap(event, event_id="e1", resident_id="0196c7a0-0000-7000-8000-000000000001",
                actor=Actor(id="ch-17 Jane Smith", role="call_handler", team_id=None),
                occurred_at=datetime(2026, 11, 30, 9, tzinfo=UTC), correlation_id="c1", causation_id="k1")


@pytest.mark.parametrize(("event", "owners"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, Event) else "")
def test_free_text_reaches_only_the_team_the_work_is_addressed_to(event: Event, owners: set[str]) -> None:
    env = envelope(event)
    for team in ("ot", "dn", "housing"):
        message = feed_message(env, event, team)
        assert (SECRET in str(message)) == (team in owners), team
        FeedMessage.model_validate(message)
        FEED_DATA[event.type_name()].model_validate(message["data"])


def test_the_actor_is_reduced_to_role_and_team_and_the_envelope_keeps_its_ids_and_times() -> None:
    event = ResidentRegistered(given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10),
                               postcode="SO14 7LY")
    message = feed_message(envelope(event), event, "ot")
    assert message["actor"] == {"role": "call_handler", "team_id": None}
    assert "ch-17" not in str(message) and "causation_id" not in message
    assert set(message) == {"event_id", "type", "version", "resident_id", "occurred_at", "recorded_at",
                            "correlation_id", "actor", "data"}
    assert message["data"]["given_name"] == "Ada"


def test_a_contact_keeps_what_the_view_shows_a_team_that_may_see_it() -> None:
    event = ContactRecorded(contact_id="c", channel="phone", caller={"relationship": "self"}, summary="fell again",
                            outcome="referred")
    message = feed_message(envelope(event), event, "ot")
    assert message["data"]["summary"] == "fell again"
