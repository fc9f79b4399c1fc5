"""Duplicated work over HTTP: list flags, and resolve one (as `linked_records` a possible duplicate person's two
records are linked in the same atomic batch, which merges their views)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from events.vocabulary import Rule
from frontdoor.api.auth import Principal, requires
from frontdoor.api.writes import asked, respond, services_of
from frontdoor.application import flags
from frontdoor.application.inputs import ResolveBody, TeamId
from frontdoor.application.who import STAFF_ROLES

router = APIRouter(tags=["flags"])
READERS = requires(*STAFF_ROLES)
RESOLVERS = requires("coordinator", "admin")
CURSOR = Query(max_length=2000, description="next_cursor of the page before (DESIGN §9)")


@router.get("/flags", summary="Duplicated work, newest first")
async def list_flags(request: Request, who: Annotated[Principal, Depends(READERS)],
                     status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
                     rule: Rule | None = None, cluster: Annotated[str | None, Query(max_length=64)] = None,
                     team: TeamId | None = None, resident_id: UUID | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                     min_seq: Annotated[int | None, Query(ge=1)] = None,
                     cursor: Annotated[str | None, CURSOR] = None) -> dict[str, Any]:
    return await flags.list_flags(services_of(request), status=status, rule=rule, cluster=cluster, team=team,
                                  resident_id=str(resident_id) if resident_id else None, limit=limit,
                                  min_seq=min_seq, cursor=cursor)


@router.post("/flags/{flag_id}/resolve", summary="Resolve a flag (merged work, not a duplicate, linked records)")
async def resolve(flag_id: Annotated[UUID, Path()], body: ResolveBody, request: Request,
                  who: Annotated[Principal, Depends(RESOLVERS)]) -> JSONResponse:
    return respond(await flags.resolve_flag(services_of(request), who, await asked(request), str(flag_id), body))
