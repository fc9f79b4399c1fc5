"""People at most risk (Dorset "Better Together"), for coordinators: `GET /residents/at-risk?cluster=`.

Include this router BEFORE the residents router, or `/residents/{resident_id}` answers for "at-risk".
Paged with an opaque `cursor` (`next_cursor` in the answer, null at the end), as DESIGN §9 pages lists.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request

from frontdoor.api.auth import Principal, requires
from frontdoor.api.problems import Problem
from frontdoor.api.writes import services_of
from projections.analyst.at_risk_query import Ranked, people_at_risk

router = APIRouter(tags=["residents"])
COORDINATORS = requires("coordinator", "admin")


@router.get("/residents/at-risk", summary="Residents ranked by risk of going into hospital, with the reasons "
                                          "(coordinators; audited)")
async def at_risk(request: Request, who: Annotated[Principal, Depends(COORDINATORS)],
                  cluster: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  cursor: Annotated[str | None, Query(max_length=500)] = None) -> dict[str, Any]:
    services = services_of(request)
    after = _decode(cursor) if cursor else None
    async with services.engine.connect() as conn:
        ranked = await people_at_risk(conn, cluster=cluster, now=datetime.now(UTC))
    if after is not None:
        ranked = [r for r in ranked if (-r.score, r.resident_id) > after]
    page = ranked[:limit]
    more = len(ranked) > limit
    await services.audit.viewed(who.actor, what=f"at-risk:{cluster or 'all'}:{len(page)} results", resident_id=None,
                                purpose=request.headers.get("x-purpose"),
                                correlation_id=(request.headers.get("x-correlation-id") or "-")[:64])
    return {"cluster": cluster, "results": [_item(r) for r in page], "count": len(page),
            "next_cursor": _encode(page[-1]) if more and page else None}


def _item(r: Ranked) -> dict[str, Any]:
    return {"resident_id": r.resident_id, "given_name": r.given_name, "family_name": r.family_name,
            "cluster": r.cluster, "score": r.score, "reasons": list(r.reasons)}


def _encode(last: Ranked) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([-last.score, last.resident_id])).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str]:
    try:
        negative_score, resident_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(negative_score), str(resident_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Problem(422, "The request is not valid", "cursor: not a cursor this list gave out", code="invalid",
                      errors=[{"field": "cursor", "message": "unknown cursor"}]) from exc
