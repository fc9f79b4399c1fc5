"""`GET /metrics` (DESIGN §9): Prometheus text of the process's counters, with projection lag measured now.

Who may scrape: Prometheus usually has no user token, so by default the route is open, like `/health`; what it
shows is counts, route templates and projection names, never an id or a person. Where even that should stay
inside, set FRONTDOOR_METRICS_TOKEN and give Prometheus that bearer token (`authorization: {credentials: …}`).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from frontdoor import metrics
from frontdoor.api.problems import Problem
from frontdoor.api.writes import services_of
from frontdoor.projection_lag import refresh

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics: request latency, appends, projection lag, audit, flags",
            response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format 0.0.4"}})
async def scrape(request: Request) -> Response:
    services = services_of(request)
    required = services.settings.metrics_token
    if required:
        header = request.headers.get("authorization", "")
        scheme, _, offered = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), required.encode()):
            raise Problem(401, "Not signed in", "send Authorization: Bearer <FRONTDOOR_METRICS_TOKEN>",
                          code="unauthenticated")
    await refresh(services)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
