"""A resident's history with every kind of fact in it, for the fold's tests: each event on its own stream with
its own sequence, as the store would hand it over. `varied_history` was folded by the dict fold that came before
the typed one; its document is kept in `data/resident_view_document.json`, so the typed fold is held to the
same JSON (the HTTP contract of GET /residents/{id}, DESIGN §8) key for key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    Caller,
    CareCoordinatorAssigned,
    ConsentRecorded,
    ContactRecorded,
    DuplicationFlagged,
    DuplicationResolved,
    Event,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
    ResidentDetailsCorrected,
    ResidentRegistered,
    ResidentsLinked,
    ResidentsUnlinked,
)
from events.codec import wrap
from events.envelope import Actor, RecordedEvent

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
A, B = "resident-a", "resident-b"


class Streams:
    """Events appended to residents' streams in one global sequence, as one stream of subjects numbers them."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def add(self, resident_id: str, event: Event, *, hours: float = 1.0, actor: str = "handler-1") -> RecordedEvent:
        seq = len(self.events) + 1
        envelope = wrap(event, event_id=f"event-{seq}", resident_id=resident_id,
                        actor=Actor(id=actor, role="call_handler"), occurred_at=START + timedelta(hours=seq * hours),
                        correlation_id="c")
        recorded = RecordedEvent(seq, envelope, event)
        self.events.append(recorded)
        return recorded

    def of(self, resident_id: str) -> list[RecordedEvent]:
        return [e for e in self.events if e.resident_id == resident_id]


def linked(resident_id: str, other: str, *, both_records: bool = True) -> ResidentsLinked:
    return ResidentsLinked(resident_id=resident_id, other_resident_id=other, evidence="same person",
                           decided_by="admin-1", both_records=both_records)


def unlinked(resident_id: str, other: str, *, both_records: bool = True) -> ResidentsUnlinked:
    return ResidentsUnlinked(resident_id=resident_id, other_resident_id=other, evidence="not the same person",
                             decided_by="admin-1", both_records=both_records)


def registered(given: str = "Ada") -> ResidentRegistered:
    return ResidentRegistered(given_name=given, family_name="Lovelace", date_of_birth=date(1941, 12, 10),
                              postcode="SO14 7LY", nhs_number="9434765919", gp_practice="Highfield")


def varied_history() -> Streams:
    s = Streams()
    s.add(A, registered())
    s.add(A, ResidentDetailsCorrected(postcode="SO14 7LZ", cluster="central", date_of_birth=date(1941, 12, 11),
                                      reason="moved"))
    s.add(A, ConsentRecorded(decision="granted", scope=["nhs", "ot-central"], recorded_by="handler-1"))
    s.add(A, ContactRecorded(contact_id="call-1", channel="phone", caller=Caller(relationship="daughter", name="Lu"),
                             needs=["mobility and falls", "housing"], summary="fell twice", outcome="referred"))
    s.add(A, ContactRecorded(contact_id="call-2", channel="web", caller=Caller(relationship="self"), needs=[],
                             urgency="urgent", safeguarding=True, outcome="advice"))
    s.add(A, ReferralMade(referral_id="ref-1", to_team="ot-central", need="mobility and falls", reason="falls",
                          contact_id="call-1"))
    s.add(A, ReferralAccepted(referral_id="ref-1", team="ot-central"), actor="ot-1")
    s.add(A, ReferralHandedOff(referral_id="ref-1", from_team="ot-central", to_team="reab-central", reason="rehab"))
    s.add(A, ReferralDeclined(referral_id="ref-1", team="reab-central", reason="not eligible"))
    s.add(A, ReferralMade(referral_id="ref-2", from_team="dn-central", to_team="housing-options", need="housing",
                          urgency="urgent"))
    s.add(A, ReferralCompleted(referral_id="ref-2", team="housing-options", outcome="rehoused"))
    s.add(A, ReferralMade(referral_id="ref-3", to_team="asc-central", need="personal care"))
    s.add(A, ReferralWithdrawn(referral_id="ref-3", reason="no longer needed"))
    s.add(A, AssessmentStarted(assessment_id="as-1", team="ot-central", kind="falls"))
    s.add(A, AssessmentCompleted(assessment_id="as-1", team="ot-central", kind="falls", outcome="rails fitted"))
    s.add(A, AssessmentStarted(assessment_id="as-2", team="asc-central", kind="care needs"))
    s.add(A, CareCoordinatorAssigned(team_id="dn-central", worker="Priya Shah"))
    s.add(A, CareCoordinatorAssigned(team_id="dn-central", worker="Tom Reid", replaces="Priya Shah"))
    s.add(A, DuplicationFlagged(flag_id="flag-1", rule="parallel_referrals", severity="high",
                                references=["ref-1", "ref-2"], explanation="two open referrals"))
    s.add(A, DuplicationFlagged(flag_id="flag-2", rule="repeat_assessment", severity="medium",
                                references=["as-1", "as-2"], explanation="again"))
    s.add(A, DuplicationResolved(flag_id="flag-1", resolution="merged_work", by="coordinator-1", note="merged"))
    s.add(A, linked(A, "resident-c", both_records=False))
    s.add(A, linked(A, B))
    s.add(A, unlinked(A, "resident-c", both_records=False))
    return s
