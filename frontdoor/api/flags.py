"""Duplicated work: list flags, and resolve one (resolving a possible duplicate person as `linked_records`
also links the two records, which merges their views)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from events.vocabulary import Rule
from frontdoor.access import STAFF_ROLES
from frontdoor.api.auth import Principal, requires
from frontdoor.api.schemas import ResolveBody
from frontdoor.api.writes import context_for, idempotent, now, services_of, wait_for_read
from frontdoor.domain import commands as c
from frontdoor.domain.errors import WorkNotFound
from frontdoor.services import Services
from projections import queries

router = APIRouter(tags=["flags"])
READERS = requires(*STAFF_ROLES)
RESOLVERS = requires("coordinator", "admin")


@router.get("/flags", summary="Duplicated work, newest first")
async def list_flags(request: Request, who: Annotated[Principal, Depends(READERS)],
                     status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
                     rule: Rule | None = None, cluster: str | None = None, team: str | None = None,
                     resident_id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                     min_seq: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    services = services_of(request)
    await wait_for_read(services, "flags", min_seq)
    async with services.engine.connect() as conn:
        found = await queries.list_flags(conn, status=status, rule=rule, cluster=cluster, team=team,
                                         resident_id=resident_id, limit=limit)
    return {"flags": found, "count": len(found)}


async def _find(services: Services, flag_id: str) -> dict[str, Any]:
    async with services.engine.connect() as conn:
        found = await queries.flag(conn, flag_id)
    if found is None:  # perhaps just raised: wait until the flags view has caught up with the stream
        await services.wait_for("flags", await services.store.last_seq())
        async with services.engine.connect() as conn:
            found = await queries.flag(conn, flag_id)
    if found is None:
        raise WorkNotFound(f"no flag {flag_id}")
    return found


@router.post("/flags/{flag_id}/resolve", summary="Resolve a flag (merged work, not a duplicate, linked records)")
async def resolve(flag_id: str, body: ResolveBody, request: Request,
                  who: Annotated[Principal, Depends(RESOLVERS)]) -> JSONResponse:
    services = services_of(request)
    found = await _find(services, flag_id)
    resident_id = found["resident_id"]

    async def run(key: str | None) -> dict[str, Any]:
        context = context_for(request, who, key)
        outcome = await services.handler.handle(resident_id, c.ResolveFlag(
            at=now(), flag_id=flag_id, resolution=body.resolution, by=who.sub, note=body.note), context)
        seq = outcome.seq
        if body.resolution == "linked_records" and found["rule"] == "possible_duplicate_resident":
            other = next(r for r in found["references"] if r != resident_id)
            linked = await services.handler.handle(resident_id, c.LinkResidents(
                at=now(), resident_id=resident_id, other_resident_id=other,
                evidence=body.note or f"resolved flag {flag_id} as one person", decided_by=who.sub),
                context_for(request, who, f"{key}:link" if key else None))
            seq = max(seq, linked.seq)
        return {"flag_id": flag_id, "resident_id": resident_id, "resolution": body.resolution, "seq": seq}

    return await idempotent(request, who, status=200, run=run)
