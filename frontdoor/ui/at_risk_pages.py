"""The coordinators' page of the people at most risk (Dorset "Better Together"): ranked by an explainable score,
each with the reasons that ranked them, filtered by cluster and paged by the list's cursor. One use case."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from frontdoor.api.writes import asked, services_of
from frontdoor.application import at_risk
from frontdoor.domain.errors import DomainError
from frontdoor.ui import forms, session
from frontdoor.ui.rendering import page, render

router = APIRouter(include_in_schema=False)
COORDINATORS = session.requires("coordinator", "admin")
PAGE = 25


@router.get("/ui/at-risk")
@page
async def people_at_risk(request: Request, cluster: Annotated[str | None, Query(max_length=64)] = None,
                         cursor: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    who = (await COORDINATORS(request)).principal
    services = services_of(request)
    errors: forms.Errors = {}
    found: dict[str, object] = {"results": [], "next_cursor": None}
    if cluster and cluster not in {c.id for c in services.teams.clusters}:
        errors["cluster"] = "Choose one of the clusters"
    else:
        try:
            found = await at_risk.at_risk(services, who, await asked(request), cluster=cluster or None, limit=PAGE,
                                          cursor=cursor)
        except DomainError as exc:
            if exc.status != 422:
                raise
            errors[exc.field or "form"] = exc.detail[:1].upper() + exc.detail[1:]
    chosen = {"cluster": cluster} if cluster else {}
    next_cursor = found["next_cursor"]
    return render(request, "at_risk.html", status=422 if errors else 200, found=found["results"], chosen=chosen,
                  filter_errors=errors, cluster_options=[(c.id, c.name) for c in services.teams.clusters],
                  cluster_names={c.id: c.name for c in services.teams.clusters},
                  next_page=f"/ui/at-risk?{urlencode(chosen | {'cursor': str(next_cursor)})}" if next_cursor
                  else None,
                  first_page=f"/ui/at-risk?{urlencode(chosen)}" if cursor else None)
