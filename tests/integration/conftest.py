"""The app in-process against the session's real nats-server and a real database, and helpers to call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.api.auth import issue_token
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from tests.conftest import bounded, database_url

SECRET = "integration-test-secret-0123456789abcdef"


@pytest.fixture
async def services(nats_server: EmbeddedNats, js: JetStreamContext, engine: AsyncEngine,
                   tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(nats_url=nats_server.url, database_url=database_url(tmp_path), data_dir=tmp_path / "data",
                        jwt_secret=SECRET, read_wait_s=5.0)
    running = await start_services(settings, run_projections=True, serve_team_commands=True)
    yield running
    await bounded(stop_services(running), "the app's services")


def auth(role: str, team: str | None = None, sub: str = "tester") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, sub=sub, role=role, team_id=team)}"}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_web_app(services))
    http = httpx.AsyncClient(transport=transport, base_url="http://frontdoor", timeout=30,
                             headers=auth("call_handler"))
    yield http
    await bounded(http.aclose(), "the HTTP client")


RESIDENT: dict[str, Any] = {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1941-12-10",
                            "postcode": "SO14 7LY", "nhs_number": "943 476 5919"}
CONTACT: dict[str, Any] = {"channel": "phone", "caller": {"relationship": "self"}, "needs": ["mobility and falls"],
                           "urgency": "routine", "safeguarding": False, "summary": "Fell twice this week",
                           "outcome": "referred"}
