"""The joined-up view of one resident (DESIGN §8), as a pure fold over that resident's events.

Used by the resident-view projection (stored as one JSON document per resident) and, unchanged, by
`GET /residents/{id}?as_of=`, which folds the resident's own events from the stream up to a moment.
"""

from __future__ import annotations

from typing import Any

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    CareCoordinatorAssigned,
    ConsentRecorded,
    ContactRecorded,
    DuplicationFlagged,
    DuplicationResolved,
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
from events.envelope import RecordedEvent

View = dict[str, Any]
_REFERRAL_STEPS: dict[type, str] = {
    ReferralAccepted: "accepted",
    ReferralDeclined: "declined",
    ReferralCompleted: "completed",
    ReferralWithdrawn: "withdrawn",
}


def new_view(resident_id: str) -> View:
    return {
        "resident_id": resident_id,
        "details": None,
        "consent": None,
        "contacts": [],
        "referrals": [],
        "assessments": [],
        "care_coordinator": None,
        "linked_residents": [],
        "open_flags": [],
        "resolved_flags": [],
        "teams_involved": [],
        "version": 0,
        "updated_at": None,
    }


def apply(view: View, recorded: RecordedEvent) -> View:
    """Folds one of the resident's own events into the view (mutating and returning it)."""
    event, env = recorded.event, recorded.envelope
    at = env.occurred_at.isoformat().replace("+00:00", "Z")
    match event:
        case ResidentRegistered():
            view["details"] = event.model_dump(mode="json") | {"registered_at": at}
        case ResidentDetailsCorrected():
            changes = event.model_dump(mode="json", exclude_none=True, exclude={"reason"})
            view["details"] = (view["details"] or {}) | changes
        case ConsentRecorded():
            view["consent"] = event.model_dump(mode="json") | {"at": at}
        case ContactRecorded():
            view["contacts"].append(event.model_dump(mode="json") | {"at": at, "recorded_by": env.actor.id})
        case ReferralMade():
            referral = event.model_dump(mode="json") | {
                "status": "made",
                "made_at": at,
                "waiting_since": at,
                "updated_at": at,
                "history": [{"step": "made", "team": event.to_team, "at": at, "by": env.actor.id}],
            }
            view["referrals"].append(referral)
            _involve(view, event.to_team)
        case ReferralAccepted() | ReferralDeclined() | ReferralCompleted() | ReferralWithdrawn():
            referral = _find(view["referrals"], "referral_id", event.referral_id)
            step = _REFERRAL_STEPS[type(event)]
            referral["status"] = step
            referral["updated_at"] = at
            note = getattr(event, "reason", None) or getattr(event, "outcome", None)
            referral["history"].append({"step": step, "team": referral["to_team"], "at": at, "by": env.actor.id}
                                       | ({"note": note} if note else {}))
        case ReferralHandedOff():
            referral = _find(view["referrals"], "referral_id", event.referral_id)
            referral |= {"status": "made", "to_team": event.to_team, "waiting_since": at, "updated_at": at}
            referral["history"].append({"step": "handed_off", "team": event.from_team, "to_team": event.to_team,
                                        "at": at, "by": env.actor.id, "note": event.reason})
            _involve(view, event.to_team)
        case AssessmentStarted():
            view["assessments"].append(event.model_dump(mode="json") | {
                "status": "started", "started_at": at, "completed_at": None, "outcome": None})
            _involve(view, event.team)
        case AssessmentCompleted():
            assessment = _find(view["assessments"], "assessment_id", event.assessment_id)
            assessment |= {"status": "completed", "completed_at": at, "outcome": event.outcome}
        case CareCoordinatorAssigned():
            view["care_coordinator"] = {"team_id": event.team_id, "worker": event.worker,
                                        "replaces": event.replaces, "since": at}
            _involve(view, event.team_id)
        case ResidentsLinked():
            link(view, event.other_resident_id)
        case ResidentsUnlinked():
            unlink(view, event.other_resident_id)
        case DuplicationFlagged():
            if not any(f["flag_id"] == event.flag_id for f in view["resolved_flags"]):
                view["open_flags"].append(event.model_dump(mode="json") | {"raised_at": at, "status": "open"})
        case DuplicationResolved():
            flags = [f for f in view["open_flags"] if f["flag_id"] == event.flag_id]
            view["open_flags"] = [f for f in view["open_flags"] if f["flag_id"] != event.flag_id]
            for flag in flags:
                view["resolved_flags"].append(flag | {"status": "resolved", "resolution": event.resolution,
                                                      "resolved_at": at})
    view["version"] = recorded.seq
    view["updated_at"] = at
    return view


def link(view: View, other_resident_id: str) -> None:
    if other_resident_id not in view["linked_residents"]:
        view["linked_residents"] = sorted([*view["linked_residents"], other_resident_id])


def unlink(view: View, other_resident_id: str) -> None:
    view["linked_residents"] = [r for r in view["linked_residents"] if r != other_resident_id]


def fold(resident_id: str, events: list[RecordedEvent]) -> View:
    view = new_view(resident_id)
    for recorded in events:
        apply(view, recorded)
    return view


def _involve(view: View, team: str) -> None:
    if team not in view["teams_involved"]:
        view["teams_involved"] = sorted([*view["teams_involved"], team])


def _find(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    for item in items:
        if item[key] == value:
            return item
    raise LookupError(f"{key} {value} is not in this view: the stream is out of order or an event is missing")
