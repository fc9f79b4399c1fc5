"""Residents: register, search, the joined-up view (now or as of any moment), contacts, consent, corrections."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from frontdoor.access import STAFF_ROLES, team_may_see
from frontdoor.api.auth import Principal, requires
from frontdoor.api.problems import Problem
from frontdoor.api.schemas import ConsentBody, ContactBody, CorrectBody, RegisterBody
from frontdoor.api.writes import context_for, idempotent, new_id, now, services_of, wait_for_read
from frontdoor.domain import commands as c
from frontdoor.domain.errors import NhsNumberTaken, ResidentNotFound
from frontdoor.services import Services
from projections import queries, resident_view
from projections.people_matching import Person

router = APIRouter(tags=["residents"])
WRITERS = requires(*STAFF_ROLES)
READERS = requires(*STAFF_ROLES, "team")
SEQ = Query(ge=1, description="wait (bounded) until the view reflects this stream sequence")


@router.post("/residents", status_code=201, summary="Register a resident")
async def register(body: RegisterBody, request: Request, who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    services = services_of(request)

    async def run(key: str | None) -> dict[str, Any]:
        resident_id = new_id("resident", who, key)
        if body.nhs_number:
            await _claim_nhs_number(services, body.nhs_number, resident_id)
        command = c.RegisterResident(at=now(), **body.model_dump())
        try:
            outcome = await services.handler.handle(resident_id, command, context_for(request, who, key))
        except BaseException:
            if body.nhs_number:  # nothing was registered: free the number again
                with contextlib.suppress(Exception):
                    if not await services.store.read_resident(resident_id):
                        await services.claims.release(body.nhs_number, resident_id)
            raise
        return {"resident_id": resident_id, "seq": outcome.seq,
                "likely_matches": await _likely_matches(services, resident_id, body)}

    return await idempotent(request, who, status=201, run=run)


async def _likely_matches(services: Services, resident_id: str, body: RegisterBody) -> list[dict[str, Any]]:
    """Existing records that may be the same person, so the call handler can use one of those instead (the
    detector will also flag the pair for linking)."""
    person = Person(resident_id, body.given_name, body.family_name, body.date_of_birth, body.postcode,
                    body.nhs_number)
    async with services.engine.connect() as conn:
        return await queries.likely_matches(conn, person, threshold=services.settings.person_match)


async def _claim_nhs_number(services: Services, number: str, resident_id: str) -> None:
    claim = await services.claims.claim(number, resident_id)
    if claim.resident_id == resident_id:
        return
    if await services.store.read_resident(claim.resident_id):
        raise NhsNumberTaken(f"NHS number {number} is already registered to resident {claim.resident_id}",
                             field="nhs_number", resident_id=claim.resident_id)
    # The claim's registration never landed (a crash between the two writes): take it over.
    if await services.claims.take_over(claim, resident_id) is None:
        raise NhsNumberTaken(f"NHS number {number} is being registered by someone else just now",
                             field="nhs_number")


@router.get("/residents", summary="Find residents by NHS number, name, date of birth or postcode")
async def search(request: Request, who: Annotated[Principal, Depends(READERS)],
                 q: Annotated[str, Query(min_length=2, max_length=200)],
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    services = services_of(request)
    terms = queries.parse_query(q)
    if terms.empty:
        raise Problem(422, "The request is not valid", "say a name, NHS number, date of birth or postcode",
                      code="invalid", errors=[{"field": "q", "message": "nothing to search for"}])
    async with services.engine.connect() as conn:
        found = await queries.search(conn, terms, limit=limit)
        if who.role == "team":
            assert who.team_id is not None
            views = {v["resident_id"]: v for v in await queries.views_of(conn, [r["resident_id"] for r in found])}
            found = [r for r in found if r["resident_id"] in views
                     and team_may_see(views[r["resident_id"]], who.team_id, services.teams)]
    await services.audit.viewed(who.actor, what=f"search:{len(found)} results", resident_id=None,
                                purpose=request.headers.get("x-purpose"), correlation_id=_correlation(request))
    return {"results": found, "count": len(found)}


@router.get("/residents/{resident_id}", summary="The joined-up view of a resident (audited)")
async def view(resident_id: str, request: Request, who: Annotated[Principal, Depends(READERS)],
               min_seq: Annotated[int | None, SEQ] = None,
               as_of: Annotated[datetime | None, Query(description="fold history up to this moment")] = None,
               ) -> dict[str, Any]:
    services = services_of(request)
    if as_of is not None:
        doc = await view_as_of(services, resident_id, as_of)
    else:
        await wait_for_read(services, "resident_view", min_seq)
        doc = await current_view(services, resident_id)
    if who.role == "team":
        assert who.team_id is not None
        # Judged by the relationship and consent in force now: a refusal today also closes the record's past.
        current = doc if as_of is None else await current_view(services, resident_id)
        if not team_may_see(current, who.team_id, services.teams):
            raise Problem(403, "Not allowed", f"team {who.team_id} has no current work with this resident, or "
                          "the resident has not consented to share with it", code="no-legitimate-relationship")
    await services.audit.viewed(who.actor, what="resident" + (f"@{as_of.isoformat()}" if as_of else ""),
                                resident_id=resident_id, purpose=request.headers.get("x-purpose"),
                                correlation_id=_correlation(request))
    return doc


async def current_view(services: Services, resident_id: str) -> dict[str, Any]:
    async with services.engine.connect() as conn:
        doc = await queries.view_of(conn, resident_id)
        if doc is None:
            raise ResidentNotFound(f"no resident {resident_id}")
        linked = await queries.views_of(conn, doc["linked_residents"])
    return _with_linked(doc, linked)


async def view_as_of(services: Services, resident_id: str, as_of: datetime) -> dict[str, Any]:
    if as_of.tzinfo is None:
        raise Problem(422, "The request is not valid", "as_of needs a time zone, e.g. 2026-11-22T09:00:00Z",
                      code="invalid", errors=[{"field": "as_of", "message": "no time zone"}])
    events = [e for e in await services.store.read_resident(resident_id) if e.envelope.occurred_at <= as_of]
    # Stream order, filtered by when each fact happened: the order the front door checked every step in.
    doc = resident_view.fold(resident_id, events)
    if not doc["details"]:
        raise ResidentNotFound(f"no resident {resident_id} was registered by {as_of.isoformat()}")
    doc = _with_linked(doc, await _linked_as_of(services, resident_id, doc, as_of))
    doc["as_of"] = as_of.isoformat()
    return doc


async def _linked_as_of(services: Services, resident_id: str, doc: dict[str, Any],
                        as_of: datetime) -> list[dict[str, Any]]:
    """The records linked to this one at `as_of`, each as it was then. A link is recorded on one of the two
    records only, so both sides are looked at: this record's own links, and records linked to it now whose
    link event was already there at `as_of`."""
    async with services.engine.connect() as conn:
        current = await queries.view_of(conn, resident_id)
    candidates = sorted(set(doc["linked_residents"]) | set(current["linked_residents"] if current else []))
    linked = []
    for other in candidates:
        then = [e for e in await services.store.read_resident(other) if e.envelope.occurred_at <= as_of]
        other_doc = resident_view.fold(other, then)
        if other in doc["linked_residents"] or resident_id in other_doc["linked_residents"]:
            resident_view.link(doc, other)
            if other_doc["details"]:
                linked.append(other_doc)
    return linked


def _with_linked(doc: dict[str, Any], linked: list[dict[str, Any]]) -> dict[str, Any]:
    """The union across linked records of one person: their work shows here too, marked with its record."""
    if not linked:
        return doc
    for key in ("contacts", "referrals", "assessments", "open_flags"):
        for other in linked:
            doc[key] = doc[key] + [item | {"record": other["resident_id"]} for item in other.get(key, [])]
    doc["teams_involved"] = sorted(set(doc["teams_involved"]).union(*(o["teams_involved"] for o in linked)))
    doc["linked_records"] = [{"resident_id": o["resident_id"], "details": o["details"],
                              "care_coordinator": o["care_coordinator"]} for o in linked]
    return doc


def _correlation(request: Request) -> str:
    return (request.headers.get("x-correlation-id") or "-")[:64]


@router.post("/residents/{resident_id}/contacts", status_code=201, summary="Record a contact")
async def record_contact(resident_id: str, body: ContactBody, request: Request,
                         who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    services = services_of(request)

    async def run(key: str | None) -> dict[str, Any]:
        contact_id = new_id("contact", who, key)
        fields = body.model_dump(exclude={"occurred_at"})
        command = c.RecordContact(at=body.occurred_at or now(), contact_id=contact_id, **fields)
        outcome = await services.handler.handle(resident_id, command, context_for(request, who, key))
        return {"contact_id": contact_id, "resident_id": resident_id, "seq": outcome.seq}

    return await idempotent(request, who, status=201, run=run)


@router.post("/residents/{resident_id}/consent", status_code=201, summary="Record a consent decision")
async def record_consent(resident_id: str, body: ConsentBody, request: Request,
                         who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    services = services_of(request)

    async def run(key: str | None) -> dict[str, Any]:
        command = c.RecordConsent(at=now(), decision=body.decision, scope=body.scope, basis=body.basis,
                                  recorded_by=body.recorded_by or who.sub)
        outcome = await services.handler.handle(resident_id, command, context_for(request, who, key))
        return {"resident_id": resident_id, "decision": body.decision, "seq": outcome.seq}

    return await idempotent(request, who, status=201, run=run)


@router.patch("/residents/{resident_id}", summary="Correct a resident's details (only the fields sent)")
async def correct(resident_id: str, body: CorrectBody, request: Request,
                  who: Annotated[Principal, Depends(WRITERS)]) -> JSONResponse:
    services = services_of(request)

    async def run(key: str | None) -> dict[str, Any]:
        before = (await services.states.load(resident_id)).state.details
        if body.nhs_number:
            await _claim_nhs_number(services, body.nhs_number, resident_id)
        command = c.CorrectDetails(at=now(), **body.model_dump())
        outcome = await services.handler.handle(resident_id, command, context_for(request, who, key))
        old_number = before.nhs_number if before else None
        if body.nhs_number and old_number and old_number != body.nhs_number:
            await services.claims.release(old_number, resident_id)
        return {"resident_id": resident_id, "seq": outcome.seq, "changed": [type(e).__name__ for e in outcome.events]}

    return await idempotent(request, who, status=200, run=run)


@router.get("/residents/{resident_id}/audit", summary="Who viewed this record, when and why (admins)")
async def audit(resident_id: str, request: Request, who: Annotated[Principal, Depends(requires("admin"))],
                limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                min_seq: Annotated[int | None, Query(ge=1, description="an AUDIT stream sequence to wait for")] = None,
                ) -> dict[str, Any]:
    services = services_of(request)
    await wait_for_read(services, "audit_log", min_seq)
    async with services.engine.connect() as conn:
        entries = await queries.audit_of(conn, resident_id, limit=limit)
    await services.audit.viewed(who.actor, what="audit", resident_id=resident_id,
                                purpose=request.headers.get("x-purpose"), correlation_id=_correlation(request))
    return {"resident_id": resident_id, "entries": entries, "count": len(entries)}
