"""The whole web application: the API plus the call-handler pages."""

from __future__ import annotations

from fastapi import FastAPI

from frontdoor.api.app import create_app
from frontdoor.services import Services
from frontdoor.ui import at_risk_pages, flag_pages, pages, resident_pages, team_pages


def create_web_app(services: Services) -> FastAPI:
    app = create_app(services)
    app.include_router(pages.router)
    app.include_router(resident_pages.router)
    app.include_router(team_pages.router)
    app.include_router(flag_pages.router)
    app.include_router(at_risk_pages.router)
    return app
