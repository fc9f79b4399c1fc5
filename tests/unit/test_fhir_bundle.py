"""The FHIR R4B Bundle of a resident with every kind of event: it validates and round-trips through the models."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from fhir.resources.R4B.bundle import Bundle

from events import catalogue as e
from events.codec import wrap
from events.envelope import Actor, RecordedEvent
from frontdoor.fhir_bundle import NHS_NUMBER_SYSTEM, resident_bundle
from frontdoor.teams import load_teams
from projections.resident_view import fold_view

RID = "0196b000-0000-7000-8000-000000000001"
OTHER = "0196b000-0000-7000-8000-000000000002"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def every_kind_of_event() -> list[RecordedEvent]:
    facts: list[e.Event] = [
        e.ResidentRegistered(nhs_number="9434765919", given_name="Ada", family_name="Lovelace",
                             date_of_birth=date(1941, 12, 10), postcode="SO14 7LY", gp_practice="Bargate Surgery",
                             cluster="central"),
        e.ResidentDetailsCorrected(postcode="SO15 2AB", reason="moved"),
        e.ConsentRecorded(decision="granted", scope=["all_partners"], basis="explicit", recorded_by="ch-1"),
        e.ContactRecorded(contact_id="c1", channel="phone", caller=e.Caller(relationship="daughter", name="Ann"),
                          needs=["mobility and falls"], urgency="soon", safeguarding=True, summary="Fell twice",
                          outcome="referred"),
        e.ReferralMade(referral_id="r1", to_team="ot-central", need="mobility and falls", urgency="soon",
                       reason="two falls", contact_id="c1"),
        e.ReferralMade(referral_id="r2", from_team="dn-central", to_team="reab-central", need="mobility and falls",
                       reason="also"),
        e.ReferralMade(referral_id="r3", to_team="housing-central", need="housing", reason="damp"),
        e.ReferralAccepted(referral_id="r1", team="ot-central"),
        e.ReferralHandedOff(referral_id="r1", from_team="ot-central", to_team="dn-central", reason="nursing"),
        e.ReferralAccepted(referral_id="r1", team="dn-central"),
        e.ReferralCompleted(referral_id="r1", team="dn-central", outcome="done"),
        e.ReferralDeclined(referral_id="r2", team="reab-central", reason="criteria"),
        e.ReferralWithdrawn(referral_id="r3", reason="better"),
        e.AssessmentStarted(assessment_id="a1", team="ot-central", kind="falls"),
        e.AssessmentCompleted(assessment_id="a1", team="ot-central", kind="falls", outcome="rails"),
        e.CareCoordinatorAssigned(team_id="asc-central", worker="Sam Patel"),
        e.ResidentsLinked(resident_id=RID, other_resident_id=OTHER, evidence="same person", decided_by="co-1"),
        e.ResidentsUnlinked(resident_id=RID, other_resident_id=OTHER, evidence="not the same", decided_by="co-1"),
        e.ResidentsLinked(resident_id=RID, other_resident_id=OTHER, evidence="same after all", decided_by="co-1"),
        e.DuplicationFlagged(flag_id="f1", rule="parallel_referrals", severity="medium", references=["r1", "r2"],
                             explanation="two open referrals"),
        e.DuplicationFlagged(flag_id="f2", rule="possible_duplicate_resident", severity="high",
                             references=[RID, OTHER], explanation="may be Ada Lovelace"),
        e.DuplicationResolved(flag_id="f1", resolution="merged_work", by="co-1", note="merged"),
    ]
    actor = Actor(id="ch-1", role="call_handler")
    return [RecordedEvent(seq, wrap(fact, event_id=f"ev{seq}", resident_id=RID, actor=actor,
                                    occurred_at=T0 + timedelta(hours=seq), correlation_id="x"), fact)
            for seq, fact in enumerate(facts, start=1)]


def test_a_resident_with_every_kind_of_event_is_a_valid_bundle_that_round_trips() -> None:
    doc = fold_view(RID, every_kind_of_event()).document()

    bundle = resident_bundle(doc, load_teams(None))

    model = Bundle.model_validate(bundle)
    again = Bundle.model_validate_json(model.model_dump_json())
    assert again == model
    assert again.model_dump(mode="json", exclude_none=True) == bundle
    kinds = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert kinds == {"Patient": 1, "Communication": 1, "ServiceRequest": 3, "CareTeam": 1, "Consent": 1, "Flag": 2,
                     "Organization": 5}
    patient = bundle["entry"][0]["resource"]
    assert patient["identifier"] == [{"system": NHS_NUMBER_SYSTEM, "value": "9434765919"}]
    assert patient["address"] == [{"use": "home", "postalCode": "SO15 2AB"}]
    assert patient["link"] == [{"other": {"reference": f"Patient/{OTHER}"}, "type": "seealso"}]
    requests = {r["resource"]["id"]: r["resource"] for r in bundle["entry"]
                if r["resource"]["resourceType"] == "ServiceRequest"}
    assert {k: v["status"] for k, v in requests.items()} == {"r1": "completed", "r2": "revoked", "r3": "revoked"}
    assert requests["r1"]["performer"] == [{"reference": "Organization/dn-central"}]
    flags = {f["resource"]["id"]: f["resource"]["status"] for f in bundle["entry"]
             if f["resource"]["resourceType"] == "Flag"}
    assert flags == {"f1": "inactive", "f2": "active"}
    references = {ref for entry in bundle["entry"] for ref in _references(entry["resource"])}
    ids = {f"{entry['resource']['resourceType']}/{entry['resource']['id']}" for entry in bundle["entry"]}
    assert references - ids == {f"Patient/{OTHER}"}  # every reference resolves inside the Bundle but the link


def _references(value: object) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []
