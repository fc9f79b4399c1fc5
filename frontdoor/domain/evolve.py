"""evolve(state, event) -> state: how each fact changes what the front door knows. One branch per event."""

from __future__ import annotations

from dataclasses import replace

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
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
from frontdoor.domain.state import Assessment, Coordinator, Details, Referral, ResidentState

_DETAIL_FIELDS = ("given_name", "family_name", "date_of_birth", "postcode", "nhs_number", "gp_practice", "cluster")


def _with_referral_status(state: ResidentState, referral_id: str, status: str) -> ResidentState:
    referral = state.referrals[referral_id]
    return replace(state, referrals={**state.referrals, referral_id: replace(referral, status=status)})


def evolve(state: ResidentState, event: Event) -> ResidentState:
    match event:
        case ResidentRegistered():
            details = Details(**{name: getattr(event, name) for name in _DETAIL_FIELDS})
            return replace(state, details=details)
        case ResidentDetailsCorrected():
            assert state.details is not None
            changes = {name: getattr(event, name) for name in _DETAIL_FIELDS if getattr(event, name) is not None}
            return replace(state, details=replace(state.details, **changes))
        case ConsentRecorded():
            return replace(state, consent=event.decision, consent_scope=tuple(event.scope))
        case ContactRecorded():
            return replace(state, contact_ids=state.contact_ids | {event.contact_id})
        case ReferralMade():
            referral = Referral(
                event.referral_id, event.to_team, event.need, "made", event.from_team, teams_had=(event.to_team,)
            )
            return replace(state, referrals={**state.referrals, event.referral_id: referral})
        case ReferralAccepted():
            return _with_referral_status(state, event.referral_id, "accepted")
        case ReferralDeclined():
            return _with_referral_status(state, event.referral_id, "declined")
        case ReferralCompleted():
            return _with_referral_status(state, event.referral_id, "completed")
        case ReferralWithdrawn():
            return _with_referral_status(state, event.referral_id, "withdrawn")
        case ReferralHandedOff():
            # A handoff opens the work at the new team: it waits there to be accepted.
            old = state.referrals[event.referral_id]
            new = replace(old, to_team=event.to_team, status="made", teams_had=(*old.teams_had, event.to_team))
            return replace(state, referrals={**state.referrals, event.referral_id: new})
        case AssessmentStarted():
            assessment = Assessment(event.assessment_id, event.team, event.kind)
            return replace(state, assessments={**state.assessments, event.assessment_id: assessment})
        case AssessmentCompleted():
            done = replace(state.assessments[event.assessment_id], completed=True)
            return replace(state, assessments={**state.assessments, event.assessment_id: done})
        case CareCoordinatorAssigned():
            return replace(state, coordinator=Coordinator(event.team_id, event.worker))
        case ResidentsLinked():
            return replace(state, linked=state.linked | {event.other_resident_id})
        case ResidentsUnlinked():
            return replace(state, linked=state.linked - {event.other_resident_id})
        case DuplicationFlagged():
            if event.flag_id in state.closed_flags:
                return state
            person_flags = state.person_flags
            if event.rule == "possible_duplicate_resident":
                person_flags = {**person_flags, event.flag_id: frozenset(event.references)}
            return replace(state, open_flags=state.open_flags | {event.flag_id}, person_flags=person_flags)
        case DuplicationResolved():
            return replace(
                state, open_flags=state.open_flags - {event.flag_id}, closed_flags=state.closed_flags | {event.flag_id},
                person_flags={k: v for k, v in state.person_flags.items() if k != event.flag_id},
            )
        case _:
            return state


def fold(events: list[Event], state: ResidentState | None = None) -> ResidentState:
    current = state or ResidentState()
    for event in events:
        current = evolve(current, event)
    return current
