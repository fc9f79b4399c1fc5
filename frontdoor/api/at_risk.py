"""People at most risk (Dorset "Better Together"), for coordinators: `GET /residents/at-risk?cluster=`.

Include this router BEFORE the residents router, or `/residents/{resident_id}` answers for "at-risk".
Paged with an opaque `cursor` (`next_cursor` in the answer, null at the end), as DESIGN §9 pages lists.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from frontdoor.api.auth import Principal, requires
from frontdoor.api.writes import asked, services_of
from frontdoor.application import at_risk as use_case

router = APIRouter(tags=["residents"])
COORDINATORS = requires("coordinator", "admin")


@router.get("/residents/at-risk", summary="Residents ranked by risk of going into hospital, with the reasons "
                                          "(coordinators; audited)")
async def at_risk(request: Request, who: Annotated[Principal, Depends(COORDINATORS)],
                  cluster: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  cursor: Annotated[str | None, Query(max_length=500)] = None) -> dict[str, Any]:
    return await use_case.at_risk(services_of(request), who, await asked(request), cluster=cluster, limit=limit,
                                  cursor=cursor)
