"""The team directory and each team's caseload (open work, days waiting, sortable). Caseload views are audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from frontdoor.access import STAFF_ROLES
from frontdoor.api.auth import ROLES, Principal, requires
from frontdoor.api.problems import Problem
from frontdoor.api.writes import services_of, wait_for_read
from projections import queries

router = APIRouter(tags=["teams"])
ANYONE = requires(*ROLES)
CASELOAD_READERS = requires(*STAFF_ROLES, "team")


@router.get("/teams", summary="The team directory")
async def teams(request: Request, who: Annotated[Principal, Depends(ANYONE)],
                cluster: str | None = None, need: str | None = None) -> dict[str, Any]:
    directory = services_of(request).teams
    found = [t.model_dump() for t in directory.teams
             if (cluster is None or t.cluster == cluster) and (need is None or need in t.needs)]
    return {"clusters": [c.model_dump() for c in directory.clusters], "teams": found}


@router.get("/teams/{team_id}/caseload", summary="A team's open work, longest waiting first")
async def caseload(team_id: str, request: Request, who: Annotated[Principal, Depends(CASELOAD_READERS)],
                   sort: Literal["waiting", "urgency", "need", "made_at"] = "waiting",
                   min_seq: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    services = services_of(request)
    if services.teams.get(team_id) is None:
        raise Problem(404, "Not found", f"no team {team_id}", code="not-found")
    if who.role == "team" and who.team_id != team_id:
        raise Problem(403, "Not allowed", f"a {who.team_id} token cannot read team {team_id}'s caseload",
                      code="forbidden")
    await wait_for_read(services, "caseload", min_seq)
    async with services.engine.connect() as conn:
        work = await queries.caseload(conn, team_id)
    today = datetime.now(UTC)
    for item in work["referrals"]:
        item["days_waiting"] = (today - datetime.fromisoformat(item["waiting_since"])).days
    rank = {"urgent": 0, "soon": 1, "routine": 2}
    keys = {
        "waiting": lambda r: (r["waiting_since"], r["referral_id"]),
        "urgency": lambda r: (rank.get(r["urgency"], 3), r["waiting_since"]),
        "need": lambda r: (r["need"], r["waiting_since"]),
        "made_at": lambda r: (r["made_at"], r["referral_id"]),
    }
    work["referrals"].sort(key=keys[sort])
    await services.audit.viewed(who.actor, what=f"caseload:{team_id}", resident_id=None,
                                purpose=request.headers.get("x-purpose"),
                                correlation_id=(request.headers.get("x-correlation-id") or "-")[:64])
    return {"team_id": team_id, "referrals": work["referrals"], "assessments": work["assessments"],
            "open": len(work["referrals"]) + len(work["assessments"])}
