"""The FastAPI application, built around services handed in by the composition root."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from frontdoor.api import asyncapi_route, at_risk, docs, fhir, flags, health, metrics, residents, teams, workflow
from frontdoor.api.contact_route import ContactRoute
from frontdoor.api.problems import BodyLimit, Unexpected, install_problem_handlers
from frontdoor.api.request_context import RequestContext
from frontdoor.services import Services
from frontdoor.settings import Settings


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": {
        "$ref": "#/components/schemas/Problem"}}}}


# Every route may answer these, always as RFC 9457 problem documents: said once, in the OpenAPI document too.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Bad request"),
    401: _problem("Not signed in, or the token is not valid"),
    403: _problem("The role or team may not do this"),
    404: _problem("No such resident, referral, assessment, flag or team"),
    409: _problem("Conflicts with the record's current state (or an unreadable event on it)"),
    413: _problem("Request body too large"),
    422: _problem("The request is not valid: `errors` names each field at fault"),
    503: _problem("A dependency (NATS, the database) is unavailable, or a min_seq read timed out; see Retry-After"),
}
PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="frontdoor",
        version="0.1.0",
        description="The single front door for joined-up health and social care. Every write is an event on "
        "NATS JetStream; reads come from projections. Errors are application/problem+json (RFC 9457).",
        responses=PROBLEMS,
        docs_url=None,  # served by frontdoor.api.docs from vendored files, not a CDN (issue 13)
        # FastAPI's own OpenTelemetry bridge, off: metrics are Prometheus (/metrics) and logs JSON lines (issue 14),
        # and with it on, every request asked OpenTelemetry's global providers whether anyone had configured them,
        # 2% of the API's CPU per contact (py-spy, issue 15).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    install_problem_handlers(app)
    # at_risk before residents: /residents/{resident_id} would otherwise answer for /residents/at-risk.
    for module in (health, at_risk, residents, fhir, workflow, flags, teams):
        app.include_router(module.router)
    app.include_router(docs.router)
    app.include_router(asyncapi_route.router)  # GET /asyncapi.json (DESIGN §9)
    # Before every documented route: the busiest write, answered without FastAPI's per-request machinery when it
    # is well formed; anything else it hands on to the documented route (frontdoor.api.contact_route).
    app.router.routes.insert(0, ContactRoute(app.router))
    # The documents (`frontdoor spec`) are drawn without services: then the default limit is as good as any.
    limit = services.settings.max_body_bytes if services is not None else Settings().max_body_bytes
    app.add_middleware(BodyLimit, limit=limit)
    app.include_router(metrics.router)  # GET /metrics (issue 14)
    app.add_middleware(Unexpected)  # nothing unhandled reaches Starlette's re-raising layer
    app.add_middleware(RequestContext)  # correlation id, request latency, access log (issue 14)
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
