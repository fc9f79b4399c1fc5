"""GET /metrics (DESIGN §9) and the request's correlation id: what an operator scrapes and greps for."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from events.subjects import CARE_STREAM
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.logs import configure_logging
from frontdoor.projection_lag import refresh
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from tests.conftest import bounded, database_url
from tests.integration.conftest import CONTACT, RESIDENT, SECRET, auth


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_label_requests_by_route_template_and_count_appends(client: httpx.AsyncClient) -> None:
    resident = (await client.post("/residents", json=RESIDENT)).json()
    seq = (await client.post(f"/residents/{resident['resident_id']}/contacts", json=CONTACT)).json()["seq"]
    assert (await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": seq})).status_code == 200
    await client.get("/no/such/path/123")
    text = await scrape(client)
    assert resident["resident_id"] not in text  # ids never become labels
    requests = samples(text, "frontdoor_http_request_duration_seconds_count")
    routes = {dict(labels)["route"] for labels in requests}
    assert {"/residents", "/residents/{resident_id}", "/residents/{resident_id}/contacts", "unmatched"} <= routes
    view = dict((("method", "GET"), ("route", "/residents/{resident_id}"), ("status", "200")))
    assert requests[tuple(sorted(view.items()))] >= 1
    assert sum(samples(text, "frontdoor_append_duration_seconds_count").values()) >= 2
    assert sum(samples(text, "frontdoor_audit_writes_total").values()) >= 1


async def test_projection_lag_comes_back_to_zero_once_caught_up(client: httpx.AsyncClient, services: Services) -> None:
    resident = (await client.post("/residents", json=RESIDENT)).json()
    seq = (await client.post(f"/residents/{resident['resident_id']}/contacts", json=CONTACT)).json()["seq"]
    await client.get(f"/residents/{resident['resident_id']}", params={"min_seq": seq})
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        text = await scrape(client)
        lag = samples(text, "frontdoor_projection_lag_events")
        if lag[(("projection", "resident_view"),)] == 0 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    assert lag[(("projection", "resident_view"),)] == 0
    assert samples(text, "frontdoor_projection_lag_seconds")[(("projection", "resident_view"),)] == 0
    assert samples(text, "frontdoor_stream_last_seq")[(("stream", "CARE"),)] >= seq
    assert (("projection", "audit_log"),) in lag


@pytest.fixture
async def idle_services(nats_server: EmbeddedNats, js: JetStreamContext, engine: AsyncEngine,
                        tmp_path: Path) -> AsyncIterator[Services]:
    """The app with no projections running here: nothing moves the checkpoints."""
    settings = Settings(nats_url=nats_server.url, database_url=database_url(tmp_path), data_dir=tmp_path / "data",
                        jwt_secret=SECRET, metrics_token="scrape-secret")
    running = await start_services(settings, run_projections=False)
    yield running
    await bounded(stop_services(running), "the app's services")


async def test_lag_in_events_and_seconds_while_nobody_applies(idle_services: Services, js: JetStreamContext) -> None:
    for n in range(3):
        await js.publish(f"care.lag-test-{n}", b"{}", stream=CARE_STREAM)
    await asyncio.sleep(0.05)  # the lag in seconds is the oldest unapplied event's age: let it have one
    await refresh(idle_services)
    transport = httpx.ASGITransport(app=create_web_app(idle_services))
    async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor") as http:
        assert (await http.get("/metrics")).status_code == 401  # FRONTDOOR_METRICS_TOKEN is set
        assert (await http.get("/metrics", headers=auth("admin"))).status_code == 401  # only that token
        text = (await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})).text
    for projection in ("resident_view", "flags", "team_router"):
        assert samples(text, "frontdoor_projection_lag_events")[(("projection", projection),)] == 3
        assert samples(text, "frontdoor_projection_lag_seconds")[(("projection", projection),)] > 0
    assert samples(text, "frontdoor_projection_lag_events")[(("projection", "audit_log"),)] == 0


async def test_the_correlation_id_is_returned_logged_and_written_into_the_events(
        client: httpx.AsyncClient, services: Services) -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    try:
        given = await client.post("/residents", json=RESIDENT, headers={"X-Correlation-Id": "call-2026-11-30-17"})
        assert given.headers["x-correlation-id"] == "call-2026-11-30-17"
        resident_id = given.json()["resident_id"]
        made = await client.post(f"/residents/{resident_id}/contacts", json=CONTACT)
    finally:
        logging.getLogger().handlers.clear()
    generated = made.headers["x-correlation-id"]
    assert generated and generated != "call-2026-11-30-17"
    events = await services.store.read_resident(resident_id)
    assert [e.envelope.correlation_id for e in events] == ["call-2026-11-30-17", generated]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "frontdoor.http"]
    assert {"route": "/residents", "status": 201, "correlation_id": "call-2026-11-30-17"}.items() <= access[0].items()
    assert access[1]["correlation_id"] == generated


async def test_a_correlation_id_that_is_not_a_plain_token_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Correlation-Id": "x" * 300})
    assert response.headers["x-correlation-id"] != "x" * 300
