"""The FastAPI application, built around services handed in by the composition root."""

from __future__ import annotations

from fastapi import FastAPI

from frontdoor.api import asyncapi_route, flags, health, residents, teams, workflow
from frontdoor.api.problems import install_problem_handlers
from frontdoor.services import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="frontdoor",
        version="0.1.0",
        description="The single front door for joined-up health and social care. Every write is an event on "
        "NATS JetStream; reads come from projections. Errors are application/problem+json (RFC 9457).",
    )
    app.state.services = services
    install_problem_handlers(app)
    for module in (health, residents, workflow, flags, teams):
        app.include_router(module.router)
    app.include_router(asyncapi_route.router)  # GET /asyncapi.json (DESIGN §9)
    return app
