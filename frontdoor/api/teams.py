"""The team directory and each team's caseload (open work, days waiting, sortable). Caseload views are audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from frontdoor.api.auth import ROLES, Principal, requires
from frontdoor.api.writes import asked, services_of
from frontdoor.application import reading
from frontdoor.application.inputs import TeamId
from frontdoor.application.who import STAFF_ROLES

router = APIRouter(tags=["teams"])
ANYONE = requires(*ROLES)
CASELOAD_READERS = requires(*STAFF_ROLES, "team")


@router.get("/teams", summary="The team directory")
async def teams(request: Request, who: Annotated[Principal, Depends(ANYONE)],
                cluster: Annotated[str | None, Query(max_length=64)] = None,
                need: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    directory = services_of(request).teams
    found = [t.model_dump() for t in directory.teams
             if (cluster is None or t.cluster == cluster) and (need is None or need in t.needs)]
    return {"clusters": [c.model_dump() for c in directory.clusters], "teams": found}


@router.get("/teams/{team_id}/caseload", summary="A team's open work, longest waiting first")
async def caseload(team_id: Annotated[TeamId, Path()], request: Request,
                   who: Annotated[Principal, Depends(CASELOAD_READERS)],
                   sort: Literal["waiting", "urgency", "need", "made_at"] = "waiting",
                   min_seq: Annotated[int | None, Query(ge=1)] = None,
                   limit: Annotated[int, Query(ge=1, le=1000, description="at most this many of each list")] = 500,
                   cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor of the page "
                                                       "before (DESIGN §9)")] = None) -> dict[str, Any]:
    return await reading.caseload(services_of(request), who, await asked(request), team_id, sort=sort,
                                  min_seq=min_seq, limit=limit, cursor=cursor)
