"""Outages of NATS and of the database under keyed load (issue 9): never a 500, only 503 problems with
Retry-After; every request answered 2xx is in the stream exactly once; a request answered 503 is in the stream at
most once, and a retry with its key returns the first result."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.catalogue import ContactRecorded
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import free_port, nats_server_binary
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from projections.database import create_engine
from tests.conftest import bounded, database_url
from tests.integration.conftest import CONTACT, RESIDENT, SECRET, auth

REQUESTS = 60


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A nats-server of this test's own, to stop and start without disturbing the session's."""
    port = free_port()
    process = subprocess.Popen([str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd",
                                str(tmp_path / "js")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield f"nats://127.0.0.1:{port}", process
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(10)


@pytest.fixture
async def app_on_own_nats(own_nats: tuple[str, subprocess.Popen[bytes]],
                          tmp_path: Path) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    url, _ = own_nats
    settings = Settings(nats_url=url, database_url=database_url(tmp_path), data_dir=tmp_path / "data",
                        jwt_secret=SECRET, read_wait_s=2.0)
    for _ in range(100):  # the server takes a moment to listen
        try:
            services = await start_services(settings, run_projections=False)
            break
        except Exception:
            await asyncio.sleep(0.1)
    services.store._timeout = 1.0  # a short request timeout keeps the outage short
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(services)), base_url="http://fd",
                             timeout=60, headers=auth("call_handler"))
    yield services, http
    await bounded(http.aclose(), "client")
    await bounded(stop_services(services), "services", within=40)


async def test_a_nats_outage_under_keyed_load_is_503_and_loses_and_doubles_nothing(
        own_nats: tuple[str, subprocess.Popen[bytes]], app_on_own_nats: tuple[Services, httpx.AsyncClient]) -> None:
    _, server = own_nats
    services, http = app_on_own_nats
    resident = (await http.post("/residents", json=RESIDENT | {"nhs_number": None})).json()["resident_id"]
    path = f"/residents/{resident}/contacts"
    statuses: Counter[int] = Counter()
    first_answers: dict[str, dict[str, Any]] = {}
    under_way = asyncio.Event()

    async def one(n: int) -> None:
        key = f"outage-{n}"
        body = CONTACT | {"summary": f"call {n}"}
        while True:
            answer = await http.post(path, json=body, headers={"Idempotency-Key": key})
            statuses[answer.status_code] += 1
            if answer.status_code == 201:
                first_answers[key] = answer.json()
                if len(first_answers) == REQUESTS // 4:
                    under_way.set()
                return
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] and answer.headers["content-type"].startswith(
                "application/problem+json")
            await asyncio.sleep(0.2)

    async def client(first: int) -> None:  # a handful of clients, each sending its calls one after another
        for n in range(first, REQUESTS, 6):
            await one(n)

    async def outage() -> None:
        await under_way.wait()  # a quarter of the calls are in: the rest meet the outage
        os.kill(server.pid, signal.SIGSTOP)  # hung, not gone: requests time out
        await asyncio.sleep(2.5)
        os.kill(server.pid, signal.SIGCONT)

    await asyncio.gather(outage(), *(client(first) for first in range(6)))
    assert statuses[503] > 0, "the outage was not felt: the test proves nothing"
    assert set(statuses) <= {201, 503}
    contacts = [e.event for e in await services.store.read_resident(resident) if isinstance(e.event, ContactRecorded)]
    written = Counter(c.contact_id for c in contacts)
    assert set(written.values()) == {1}, "a contact was written twice"
    assert sorted(written) == sorted(a["contact_id"] for a in first_answers.values())
    again = await http.post(path, json=CONTACT | {"summary": "call 7"}, headers={"Idempotency-Key": "outage-7"})
    assert again.status_code == 201 and again.json() == first_answers["outage-7"]


async def test_a_database_outage_is_503_before_anything_is_written(services: Services,
                                                                    client: httpx.AsyncClient,
                                                                    tmp_path: Path) -> None:
    resident = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    before = await services.store.count()
    working = services.engine
    services.engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'gone.db'}")
    try:
        answers = [
            await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Dee"},
                              headers={"Idempotency-Key": "db-down-1"}),
            await client.get(f"/residents/{resident}"),
            await client.get("/residents", params={"q": "Lovelace"}),
            await client.get("/flags"),
            await client.post("/referrals/0189fa2e-0000-7000-8000-000000000000/accept",
                              headers=auth("team", "dn-central")),
        ]
    finally:
        await services.engine.dispose()
        services.engine = working
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] and answer.json()["type"].endswith("/database-unavailable")
    assert await services.store.count() == before
    retried = await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Dee"},
                                headers={"Idempotency-Key": "db-down-1"})
    assert retried.status_code == 201 and await services.store.count() == before + 1
