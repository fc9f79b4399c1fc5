"""The care workflow over HTTP (DESIGN §6): referrals and their life cycle, assessments, the one care coordinator,
links. Each route translates the request, calls one use case, and translates its answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from frontdoor.api.auth import Principal, requires
from frontdoor.api.writes import asked, respond, services_of
from frontdoor.application import assessments, coordination, links, referrals
from frontdoor.application.inputs import (
    AssessmentBody,
    CoordinatorBody,
    HandoffBody,
    LinkBody,
    OutcomeBody,
    ReasonBody,
    ReferralBody,
    TeamId,
)
from frontdoor.application.who import STAFF_ROLES

router = APIRouter(tags=["workflow"])
STAFF = requires(*STAFF_ROLES)
STAFF_OR_TEAM = requires(*STAFF_ROLES, "team")
TEAM_OR_ADMIN = requires("team", "admin", "coordinator")
ADMIN = requires("admin")
ResidentId = Annotated[UUID, Path(description="the resident's id (a UUID)")]
ReferralId = Annotated[UUID, Path(description="the referral's id (a UUID)")]
AssessmentId = Annotated[UUID, Path(description="the assessment's id (a UUID)")]


@router.post("/residents/{resident_id}/referrals", status_code=201, summary="Refer to a team")
async def refer(resident_id: ResidentId, body: ReferralBody, request: Request,
                who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    return respond(await referrals.refer(services_of(request), who, await asked(request), str(resident_id), body))


@router.post("/referrals/{referral_id}/accept", summary="Accept a referral (the team it is addressed to)")
async def accept(referral_id: ReferralId, request: Request, who: Annotated[Principal, Depends(TEAM_OR_ADMIN)],
                 team: TeamId | None = None) -> JSONResponse:
    return respond(await referrals.take_step(services_of(request), who, await asked(request), str(referral_id),
                                             "accept", claimed_team=team))


@router.post("/referrals/{referral_id}/decline", summary="Decline a referral, saying why")
async def decline(referral_id: ReferralId, body: ReasonBody, request: Request,
                  who: Annotated[Principal, Depends(TEAM_OR_ADMIN)]) -> JSONResponse:
    return respond(await referrals.take_step(services_of(request), who, await asked(request), str(referral_id),
                                             "decline", body=body))


@router.post("/referrals/{referral_id}/complete", summary="Complete an accepted referral")
async def complete(referral_id: ReferralId, body: OutcomeBody, request: Request,
                   who: Annotated[Principal, Depends(TEAM_OR_ADMIN)]) -> JSONResponse:
    return respond(await referrals.take_step(services_of(request), who, await asked(request), str(referral_id),
                                             "complete", body=body))


@router.post("/referrals/{referral_id}/handoff", summary="Hand an accepted referral to another team")
async def handoff(referral_id: ReferralId, body: HandoffBody, request: Request,
                  who: Annotated[Principal, Depends(TEAM_OR_ADMIN)]) -> JSONResponse:
    return respond(await referrals.take_step(services_of(request), who, await asked(request), str(referral_id),
                                             "handoff", body=body))


@router.post("/referrals/{referral_id}/withdraw", summary="Withdraw a referral that is no longer needed")
async def withdraw(referral_id: ReferralId, body: ReasonBody, request: Request,
                   who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    return respond(await referrals.take_step(services_of(request), who, await asked(request), str(referral_id),
                                             "withdraw", body=body))


@router.post("/residents/{resident_id}/assessments", status_code=201, summary="Start an assessment")
async def start_assessment(resident_id: ResidentId, body: AssessmentBody, request: Request,
                           who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    return respond(await assessments.start_assessment(services_of(request), who, await asked(request),
                                                      str(resident_id), body))


@router.post("/assessments/{assessment_id}/complete", summary="Complete an assessment with its outcome")
async def complete_assessment(assessment_id: AssessmentId, body: OutcomeBody, request: Request,
                              who: Annotated[Principal, Depends(STAFF_OR_TEAM)]) -> JSONResponse:
    return respond(await assessments.complete_assessment(services_of(request), who, await asked(request),
                                                         str(assessment_id), body))


@router.put("/residents/{resident_id}/care-coordinator", summary="Assign the one care coordinator")
async def assign_coordinator(resident_id: ResidentId, body: CoordinatorBody, request: Request,
                             who: Annotated[Principal, Depends(STAFF)]) -> JSONResponse:
    return respond(await coordination.assign_coordinator(services_of(request), who, await asked(request),
                                                         str(resident_id), body))


@router.post("/residents/{resident_id}/links", status_code=201, summary="Link two records of one person (admin)")
async def link(resident_id: ResidentId, body: LinkBody, request: Request,
               who: Annotated[Principal, Depends(ADMIN)]) -> JSONResponse:
    return respond(await links.link(services_of(request), who, await asked(request), str(resident_id), body))


@router.delete("/residents/{resident_id}/links/{other_resident_id}", summary="Unlink two records (admin)")
async def unlink(resident_id: ResidentId, other_resident_id: Annotated[UUID, Path()], body: ReasonBody,
                 request: Request, who: Annotated[Principal, Depends(ADMIN)]) -> JSONResponse:
    return respond(await links.unlink(services_of(request), who, await asked(request), str(resident_id),
                                      str(other_resident_id), body))
