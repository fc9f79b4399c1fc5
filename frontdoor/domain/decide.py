"""decide(command, state) -> events: the front door's rules. Pure: the time and the acting team come in the
command; an illegal step raises a named DomainError and writes nothing."""

from __future__ import annotations

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
from frontdoor.domain import commands as c
from frontdoor.domain.errors import (
    AlreadyRegistered,
    IllegalStep,
    InvalidCommand,
    NotYourWork,
    ResidentNotFound,
    WorkNotFound,
)
from frontdoor.domain.state import Referral, ResidentState

_DETAIL_FIELDS = ("given_name", "family_name", "date_of_birth", "postcode", "nhs_number", "gp_practice", "cluster")


def decide(command: c.Command, state: ResidentState) -> list[Event]:
    if isinstance(command, c.RegisterResident):
        return _register(command, state)
    if not state.registered:
        raise ResidentNotFound("no resident is registered with this id")
    match command:
        case c.CorrectDetails():
            return _correct(command, state)
        case c.RecordConsent():
            return [ConsentRecorded(**_fields(command))]
        case c.RecordContact():
            if command.contact_id in state.contact_ids:
                return []  # the same contact again (a retry): already recorded
            return [ContactRecorded(**_fields(command))]
        case c.MakeReferral():
            return _refer(command, state)
        case c.AcceptReferral():
            _open_at(state, command.referral_id, command.by_team, "accept", allowed={"made"})
            return [ReferralAccepted(referral_id=command.referral_id, team=command.by_team)]
        case c.DeclineReferral():
            _open_at(state, command.referral_id, command.by_team, "decline", allowed={"made"})
            return [ReferralDeclined(referral_id=command.referral_id, team=command.by_team, reason=command.reason)]
        case c.CompleteReferral():
            _open_at(state, command.referral_id, command.by_team, "complete", allowed={"accepted"})
            return [
                ReferralCompleted(referral_id=command.referral_id, team=command.by_team, outcome=command.outcome)
            ]
        case c.WithdrawReferral():
            referral = _referral(state, command.referral_id)
            if command.by_team is not None and command.by_team not in (referral.from_team, referral.to_team):
                raise NotYourWork(f"referral {referral.referral_id} is neither from nor to team {command.by_team}")
            _require_status(referral, "withdraw", {"made", "accepted"})
            return [ReferralWithdrawn(referral_id=referral.referral_id, team=referral.to_team, reason=command.reason)]
        case c.HandOffReferral():
            referral = _open_at(state, command.referral_id, command.by_team, "hand off", allowed={"accepted"})
            if command.to_team == referral.to_team:
                raise InvalidCommand("a handoff goes to another team", field="to_team")
            return [
                ReferralHandedOff(
                    referral_id=referral.referral_id,
                    from_team=referral.to_team,
                    to_team=command.to_team,
                    reason=command.reason,
                )
            ]
        case c.StartAssessment():
            if command.assessment_id in state.assessments:
                return []
            return [AssessmentStarted(assessment_id=command.assessment_id, team=command.team, kind=command.kind)]
        case c.CompleteAssessment():
            return _complete_assessment(command, state)
        case c.AssignCareCoordinator():
            current = state.coordinator
            if current is not None and (current.team_id, current.worker) == (command.team_id, command.worker):
                return []
            return [
                CareCoordinatorAssigned(
                    team_id=command.team_id, worker=command.worker, replaces=current.worker if current else None
                )
            ]
        case c.LinkResidents() | c.UnlinkResidents():
            return _link(command, state)
        case c.ResolveFlag():
            if command.flag_id not in state.open_flags:
                if command.flag_id in state.closed_flags:
                    raise IllegalStep(f"flag {command.flag_id} is already resolved")
                raise WorkNotFound(f"no flag {command.flag_id} on this resident")
            return [DuplicationResolved(**_fields(command))]
        case c.FlagDuplication():
            if command.flag_id in state.open_flags or command.flag_id in state.closed_flags:
                return []  # deterministic ids: a replayed or second detector never flags twice
            return [DuplicationFlagged.model_validate(_fields(command))]
    raise InvalidCommand(f"unknown command {type(command).__name__}")


def _fields(command: c.Command) -> dict[str, object]:
    return command.model_dump(exclude={"at"})


def _register(command: c.RegisterResident, state: ResidentState) -> list[Event]:
    if state.registered:
        raise AlreadyRegistered("a resident with this id is already registered")
    if command.date_of_birth > command.at.date():
        raise InvalidCommand("the date of birth is in the future", field="date_of_birth")
    return [ResidentRegistered(**_fields(command))]


def _correct(command: c.CorrectDetails, state: ResidentState) -> list[Event]:
    assert state.details is not None
    if command.date_of_birth is not None and command.date_of_birth > command.at.date():
        raise InvalidCommand("the date of birth is in the future", field="date_of_birth")
    changed = {
        name: getattr(command, name)
        for name in _DETAIL_FIELDS
        if getattr(command, name) is not None and getattr(command, name) != getattr(state.details, name)
    }
    if not changed:
        return []  # nothing differs from the record: no fact to write
    return [ResidentDetailsCorrected(**changed, reason=command.reason)]


def _refer(command: c.MakeReferral, state: ResidentState) -> list[Event]:
    if command.referral_id in state.referrals:
        return []
    for referral in state.referrals.values():
        if referral.is_open and referral.to_team == command.to_team and referral.need == command.need:
            raise IllegalStep(
                f"referral {referral.referral_id} to {command.to_team} for {command.need} is still open",
                referral_id=referral.referral_id,
            )
    return [ReferralMade(**_fields(command))]


def _referral(state: ResidentState, referral_id: str) -> Referral:
    referral = state.referrals.get(referral_id)
    if referral is None:
        raise WorkNotFound(f"no referral {referral_id} for this resident")
    return referral


def _require_status(referral: Referral, step: str, allowed: set[str]) -> None:
    if referral.status not in allowed:
        raise IllegalStep(
            f"cannot {step} referral {referral.referral_id}: it is {referral.status.replace('_', ' ')}",
            current_status=referral.status,
        )


def _open_at(state: ResidentState, referral_id: str, team: str, step: str, *, allowed: set[str]) -> Referral:
    referral = _referral(state, referral_id)
    if referral.to_team != team:
        raise NotYourWork(f"referral {referral_id} is with team {referral.to_team}, not {team}")
    _require_status(referral, step, allowed)
    return referral


def _complete_assessment(command: c.CompleteAssessment, state: ResidentState) -> list[Event]:
    assessment = state.assessments.get(command.assessment_id)
    if assessment is None:
        raise WorkNotFound(f"no assessment {command.assessment_id} for this resident")
    if command.by_team is not None and command.by_team != assessment.team:
        raise NotYourWork(f"assessment {assessment.assessment_id} belongs to team {assessment.team}")
    if assessment.completed:
        raise IllegalStep(f"assessment {assessment.assessment_id} is already completed")
    return [
        AssessmentCompleted(
            assessment_id=assessment.assessment_id, team=assessment.team, kind=assessment.kind, outcome=command.outcome
        )
    ]


def _link(command: c.LinkResidents | c.UnlinkResidents, state: ResidentState) -> list[Event]:
    other = command.other_resident_id
    if other == command.resident_id:
        raise InvalidCommand("a record cannot be linked to itself", field="other_resident_id")
    # Written to this record's stream only (until links are written to both records in one batch): the event
    # says so, and every fold applies it to the other record as well.
    facts = _fields(command) | {"both_records": False}
    if isinstance(command, c.LinkResidents):
        return [] if other in state.linked else [ResidentsLinked.model_validate(facts)]
    if other not in state.linked:
        raise IllegalStep(f"this record is not linked to {other}")
    return [ResidentsUnlinked.model_validate(facts)]
