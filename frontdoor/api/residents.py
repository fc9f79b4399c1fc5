"""Residents over HTTP: register, search, the joined-up view (now or as of any moment), contacts, consent,
corrections, the audit trail, and an operator's mark on an unreadable event. Each route translates the request,
calls one use case, and translates its answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from frontdoor.api.auth import Principal, requires
from frontdoor.api.writes import asked, respond, services_of
from frontdoor.application import reading, residents, supersede
from frontdoor.application.inputs import ConsentBody, ContactBody, CorrectBody, ReasonBody, RegisterBody
from frontdoor.application.who import STAFF_ROLES

router = APIRouter(tags=["residents"])
WRITERS = requires(*STAFF_ROLES)
READERS = requires(*STAFF_ROLES, "team")
SEQ = Query(ge=1, description="wait (bounded) until the view reflects this stream sequence")
ResidentId = Annotated[UUID, Path(description="the resident's id (a UUID)")]


@router.post("/residents", status_code=201, summary="Register a resident")
async def register(body: RegisterBody, request: Request, who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    return respond(await residents.register(services_of(request), who, await asked(request), body))


@router.get("/residents", summary="Find residents by NHS number, name, date of birth or postcode")
async def search(request: Request, who: Annotated[Principal, Depends(READERS)],
                 q: Annotated[str, Query(min_length=2, max_length=200)],
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor of the page before "
                                                     "(DESIGN §9)")] = None) -> dict[str, Any]:
    return await reading.search(services_of(request), who, await asked(request), q, limit=limit, cursor=cursor)


@router.get("/residents/{resident_id}", summary="The joined-up view of a resident (audited)")
async def view(resident_id: ResidentId, request: Request, who: Annotated[Principal, Depends(READERS)],
               min_seq: Annotated[int | None, SEQ] = None,
               as_of: Annotated[datetime | None, Query(description="fold history up to this moment")] = None,
               ) -> dict[str, Any]:
    return await reading.view(services_of(request), who, await asked(request), str(resident_id), min_seq=min_seq,
                              as_of=as_of)


@router.post("/residents/{resident_id}/contacts", status_code=201, summary="Record a contact")
async def record_contact(resident_id: ResidentId, body: ContactBody, request: Request,
                         who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    return respond(await residents.record_contact(services_of(request), who, await asked(request), str(resident_id),
                                                  body))


@router.post("/residents/{resident_id}/consent", status_code=201, summary="Record a consent decision")
async def record_consent(resident_id: ResidentId, body: ConsentBody, request: Request,
                         who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    return respond(await residents.record_consent(services_of(request), who, await asked(request), str(resident_id),
                                                  body))


@router.patch("/residents/{resident_id}", summary="Correct a resident's details (only the fields sent)")
async def correct(resident_id: ResidentId, body: CorrectBody, request: Request,
                  who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    return respond(await residents.correct_details(services_of(request), who, await asked(request),
                                                   str(resident_id), body))


@router.get("/residents/{resident_id}/audit", summary="Who viewed this record, when and why (admins)")
async def audit(resident_id: ResidentId, request: Request, who: Annotated[Principal, Depends(requires("admin"))],
                limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                min_seq: Annotated[int | None, Query(ge=1, description="an AUDIT stream sequence to wait for")] = None,
                ) -> dict[str, Any]:
    return await reading.audit_trail(services_of(request), who, await asked(request), str(resident_id),
                                     limit=limit, min_seq=min_seq)


@router.post("/residents/{resident_id}/events/{seq}/supersede", status_code=201,
             summary="Mark an unreadable event on this record as superseded, so the record works again (admins)")
async def supersede_event(resident_id: ResidentId, seq: Annotated[int, Path(ge=1)], body: ReasonBody,
                          request: Request, who: Annotated[Principal, Depends(requires("admin"))]) -> JSONResponse:
    return respond(await supersede.supersede_event(services_of(request), who, await asked(request),
                                                   str(resident_id), seq, body.reason))
