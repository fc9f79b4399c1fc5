"""The care workflow (DESIGN §6): referrals and their life cycle, assessments, the one care coordinator, links.

Team tokens act as their own team: a team can only accept, decline, complete or hand off work addressed to
it, and refers or assesses as itself. Staff roles act for the front door.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from frontdoor.access import STAFF_ROLES
from frontdoor.api.auth import Principal, requires
from frontdoor.api.problems import Problem
from frontdoor.api.schemas import (
    AssessmentBody,
    CoordinatorBody,
    HandoffBody,
    LinkBody,
    OutcomeBody,
    ReasonBody,
    ReferralBody,
)
from frontdoor.api.writes import context_for, idempotent, new_id, now, services_of
from frontdoor.domain import commands as c
from frontdoor.domain.errors import InvalidCommand, ResidentNotFound
from frontdoor.services import Services
from frontdoor.work_lookup import resident_of, team_holding

router = APIRouter(tags=["workflow"])
STAFF = requires(*STAFF_ROLES)
STAFF_OR_TEAM = requires(*STAFF_ROLES, "team")
TEAM_OR_ADMIN = requires("team", "admin", "coordinator")
ADMIN = requires("admin")


def _known_team(services: Services, team_id: str, field: str) -> None:
    if services.teams.get(team_id) is None:
        raise InvalidCommand(f"no team {team_id} in the directory (see GET /teams)", field=field)


def _acting_team(who: Principal, claimed: str | None) -> str | None:
    """A team token always acts as its own team, whatever the body says."""
    if who.role == "team":
        if claimed is not None and claimed != who.team_id:
            raise Problem(403, "Not allowed", f"a {who.team_id} token cannot act for team {claimed}",
                          code="forbidden")
        return who.team_id
    return claimed


async def _respond(request: Request, who: Principal, resident_id: str, command: c.Command, body: dict[str, Any],
                   *, status: int = 200) -> JSONResponse:
    services = services_of(request)

    async def run(key: str | None) -> dict[str, Any]:
        outcome = await services.handler.handle(resident_id, command, context_for(request, who, key))
        return body | {"resident_id": resident_id, "seq": outcome.seq}

    return await idempotent(request, who, status=status, run=run)


@router.post("/residents/{resident_id}/referrals", status_code=201, summary="Refer to a team")
async def refer(resident_id: str, body: ReferralBody, request: Request,
                who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    services = services_of(request)
    _known_team(services, body.to_team, "to_team")
    from_team = _acting_team(who, body.from_team)
    services_key = request.headers.get("idempotency-key")
    referral_id = new_id("referral", who, services_key.strip() if services_key else None)
    command = c.MakeReferral(at=now(), referral_id=referral_id, from_team=from_team, to_team=body.to_team,
                             need=body.need, urgency=body.urgency, reason=body.reason, contact_id=body.contact_id)
    return await _respond(request, who, resident_id, command, {"referral_id": referral_id}, status=201)


async def _team_step(request: Request, who: Principal, referral_id: str, claimed_team: str | None,
                     make: Callable[[str], c.Command], reply: dict[str, Any]) -> JSONResponse:
    """A step by the team holding a referral: a team token acts as itself; staff act for the holding team."""
    services = services_of(request)
    resident_id = await resident_of(services, "referral", referral_id)
    by_team = _acting_team(who, claimed_team) or await team_holding(services, resident_id, referral_id)
    return await _respond(request, who, resident_id, make(by_team), {"referral_id": referral_id} | reply)


@router.post("/referrals/{referral_id}/accept", summary="Accept a referral (the team it is addressed to)")
async def accept(referral_id: str, request: Request, who: Annotated[Principal, Depends(TEAM_OR_ADMIN)],
                 team: str | None = None) -> JSONResponse:
    return await _team_step(request, who, referral_id, team,
                            lambda by: c.AcceptReferral(at=now(), referral_id=referral_id, by_team=by),
                            {"status": "accepted"})


@router.post("/referrals/{referral_id}/decline", summary="Decline a referral, saying why")
async def decline(referral_id: str, body: ReasonBody, request: Request,
                  who: Annotated[Principal, Depends(TEAM_OR_ADMIN)]) -> JSONResponse:
    return await _team_step(request, who, referral_id, None,
                            lambda by: c.DeclineReferral(at=now(), referral_id=referral_id, by_team=by,
                                                         reason=body.reason),
                            {"status": "declined"})


@router.post("/referrals/{referral_id}/complete", summary="Complete an accepted referral")
async def complete(referral_id: str, body: OutcomeBody, request: Request,
                   who: Annotated[Principal, Depends(TEAM_OR_ADMIN)]) -> JSONResponse:
    return await _team_step(request, who, referral_id, None,
                            lambda by: c.CompleteReferral(at=now(), referral_id=referral_id, by_team=by,
                                                          outcome=body.outcome),
                            {"status": "completed"})


@router.post("/referrals/{referral_id}/handoff", summary="Hand an accepted referral to another team")
async def handoff(referral_id: str, body: HandoffBody, request: Request,
                  who: Annotated[Principal, Depends(TEAM_OR_ADMIN)]) -> JSONResponse:
    _known_team(services_of(request), body.to_team, "to_team")
    return await _team_step(request, who, referral_id, None,
                            lambda by: c.HandOffReferral(at=now(), referral_id=referral_id, by_team=by,
                                                         to_team=body.to_team, reason=body.reason),
                            {"status": "made", "to_team": body.to_team})


@router.post("/referrals/{referral_id}/withdraw", summary="Withdraw a referral that is no longer needed")
async def withdraw(referral_id: str, body: ReasonBody, request: Request,
                   who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    resident_id = await resident_of(services_of(request), "referral", referral_id)
    command = c.WithdrawReferral(at=now(), referral_id=referral_id, by_team=_acting_team(who, None),
                                 reason=body.reason)
    return await _respond(request, who, resident_id, command, {"referral_id": referral_id, "status": "withdrawn"})


@router.post("/residents/{resident_id}/assessments", status_code=201, summary="Start an assessment")
async def start_assessment(resident_id: str, body: AssessmentBody, request: Request,
                           who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    services = services_of(request)
    team = _acting_team(who, body.team)
    if team is None:
        raise InvalidCommand("say which team assesses", field="team")
    _known_team(services, team, "team")
    key = request.headers.get("idempotency-key")
    assessment_id = new_id("assessment", who, key.strip() if key else None)
    command = c.StartAssessment(at=now(), assessment_id=assessment_id, team=team, kind=body.kind)
    return await _respond(request, who, resident_id, command, {"assessment_id": assessment_id}, status=201)


@router.post("/assessments/{assessment_id}/complete", summary="Complete an assessment with its outcome")
async def complete_assessment(assessment_id: str, body: OutcomeBody, request: Request,
                              who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    services = services_of(request)
    resident_id = await resident_of(services, "assessment", assessment_id)
    command = c.CompleteAssessment(at=now(), assessment_id=assessment_id, by_team=_acting_team(who, None),
                                   outcome=body.outcome)
    return await _respond(request, who, resident_id, command, {"assessment_id": assessment_id, "status": "completed"})


@router.put("/residents/{resident_id}/care-coordinator", summary="Assign the one care coordinator")
async def assign_coordinator(resident_id: str, body: CoordinatorBody, request: Request,
                             who: Annotated[Principal, Depends(STAFF)]) -> JSONResponse:
    _known_team(services_of(request), body.team_id, "team_id")
    command = c.AssignCareCoordinator(at=now(), team_id=body.team_id, worker=body.worker)
    return await _respond(request, who, resident_id, command, {"team_id": body.team_id, "worker": body.worker})


@router.post("/residents/{resident_id}/links", status_code=201, summary="Link two records of one person (admin)")
async def link(resident_id: str, body: LinkBody, request: Request,
               who: Annotated[Principal, Depends(ADMIN)]) -> JSONResponse:
    services = services_of(request)
    if not (await services.states.load(body.other_resident_id)).state.registered:
        raise ResidentNotFound(f"no resident {body.other_resident_id}", field="other_resident_id")
    command = c.LinkResidents(at=now(), resident_id=resident_id, other_resident_id=body.other_resident_id,
                              evidence=body.evidence, decided_by=who.sub)
    return await _respond(request, who, resident_id, command,
                          {"other_resident_id": body.other_resident_id, "linked": True}, status=201)


@router.delete("/residents/{resident_id}/links/{other_resident_id}", summary="Unlink two records (admin)")
async def unlink(resident_id: str, other_resident_id: str, body: ReasonBody, request: Request,
                 who: Annotated[Principal, Depends(ADMIN)]) -> JSONResponse:
    command = c.UnlinkResidents(at=now(), resident_id=resident_id, other_resident_id=other_resident_id,
                                evidence=body.reason, decided_by=who.sub)
    return await _respond(request, who, resident_id, command, {"other_resident_id": other_resident_id,
                                                               "linked": False})
