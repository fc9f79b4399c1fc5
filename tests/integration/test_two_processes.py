"""Two API processes on one NATS and one database (issue 9): every decision is taken on fresh state, and one NHS
number is registered to exactly one resident however the requests are spread.

Each process keeps its own cache of folded resident states; the other process's writes make it stale. A write
decided on a stale state is refused by the expected-sequence check, but a refusal or a "nothing to write" used to
be answered from the stale state as it was: 404 for legal declines, 200 for coordinator changes never written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from events.catalogue import CareCoordinatorAssigned, ResidentDetailsCorrected, ResidentRegistered
from events.store import JetStreamEventStore
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from tests.conftest import bounded, database_url
from tests.integration.conftest import RESIDENT, SECRET, auth
from tests.integration.serve_processes import http_clients, serve_processes, wait_healthy

TEAM = auth("team", "dn-central")


def _valid_nhs_numbers(count: int) -> list[str]:
    """Test-range numbers (999…) with a right modulus-11 check digit."""
    found = []
    for stem in range(999_000_000, 999_999_999):
        digits = [int(d) for d in str(stem)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            found.append(f"{stem}{check}")
        if len(found) == count:
            return found
    raise AssertionError("not enough numbers")


NUMBERS = _valid_nhs_numbers(8)


@pytest.fixture
async def other(nats_server: EmbeddedNats, js: JetStreamContext, engine: AsyncEngine, services: Services,
                tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A second API process: its own NATS connection and its own cache, the same stream and database (the first
    process runs the projections)."""
    settings = Settings(nats_url=nats_server.url, database_url=database_url(tmp_path), data_dir=tmp_path / "other",
                        jwt_secret=SECRET, read_wait_s=5.0)
    second = await start_services(settings, run_projections=False)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(second)), base_url="http://other",
                             timeout=30, headers=auth("call_handler"))
    yield http
    await bounded(http.aclose(), "the second process's client")
    await bounded(stop_services(second), "the second process")


async def _registered_and_known_to_both(client: httpx.AsyncClient, other: httpx.AsyncClient) -> str:
    rid: str = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    contact = {"channel": "phone", "caller": {"relationship": "self"}, "needs": ["housing"], "outcome": "advice"}
    assert (await other.post(f"/residents/{rid}/contacts", json=contact)).status_code == 201  # cached there now
    return rid


async def test_a_decline_sent_to_the_process_that_did_not_make_the_referral_is_decided_on_fresh_state(
        client: httpx.AsyncClient, other: httpx.AsyncClient, services: Services) -> None:
    rid = await _registered_and_known_to_both(client, other)
    for _ in range(5):
        made = (await client.post(f"/residents/{rid}/referrals", json={"to_team": "dn-central", "need": "housing",
                                                                        "reason": "damp"})).json()
        declined = await other.post(f"/referrals/{made['referral_id']}/decline", headers=TEAM,
                                    json={"reason": "not ours"})
        assert declined.status_code == 200, declined.text
        accepted_again = await client.post(f"/referrals/{made['referral_id']}/accept", headers=TEAM)
        assert accepted_again.status_code == 409  # and the first process sees the decline


async def test_an_accept_sent_to_the_other_process_is_decided_on_fresh_state(
        client: httpx.AsyncClient, other: httpx.AsyncClient) -> None:
    rid = await _registered_and_known_to_both(client, other)
    made = (await client.post(f"/residents/{rid}/referrals", json={"to_team": "dn-central", "need": "housing"})).json()
    accepted = await other.post(f"/referrals/{made['referral_id']}/accept", headers=TEAM)
    assert accepted.status_code == 200, accepted.text


async def test_a_coordinator_change_on_stale_state_is_written_not_answered_as_nothing_to_do(
        client: httpx.AsyncClient, other: httpx.AsyncClient, services: Services) -> None:
    rid = await _registered_and_known_to_both(client, other)
    sam = {"team_id": "dn-central", "worker": "Sam"}
    assert (await other.put(f"/residents/{rid}/care-coordinator", json=sam)).status_code == 200
    assert (await client.put(f"/residents/{rid}/care-coordinator",
                             json={"team_id": "ot-central", "worker": "Priya"})).status_code == 200
    again = await other.put(f"/residents/{rid}/care-coordinator", json=sam)  # its cache still says Sam
    assert again.status_code == 200
    written = [e.event for e in await services.store.read_resident(rid) if isinstance(e.event, CareCoordinatorAssigned)]
    assert [(e.worker, e.replaces) for e in written] == [("Sam", None), ("Priya", "Sam"), ("Sam", "Priya")]
    assert again.json()["seq"] == (await services.store.read_resident(rid))[-1].seq


async def test_a_correction_on_stale_state_is_written(client: httpx.AsyncClient, other: httpx.AsyncClient,
                                                      services: Services) -> None:
    rid = await _registered_and_known_to_both(client, other)
    assert (await other.patch(f"/residents/{rid}", json={"postcode": "SO15 2AA"})).status_code == 200
    assert (await client.patch(f"/residents/{rid}", json={"postcode": "SO16 3BB"})).status_code == 200
    back = await other.patch(f"/residents/{rid}", json={"postcode": "SO15 2AA"})
    assert back.status_code == 200 and back.json()["changed"] == ["ResidentDetailsCorrected"]
    postcodes = [e.event.postcode for e in await services.store.read_resident(rid)
                 if isinstance(e.event, ResidentDetailsCorrected)]
    assert postcodes == ["SO15 2AA", "SO16 3BB", "SO15 2AA"]


async def test_a_burst_of_registrations_of_one_nhs_number_over_two_serve_processes_makes_one_resident(
        nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, engine: AsyncEngine, tmp_path: Path) -> None:
    with serve_processes(2, nats_server.url, tmp_path) as children:
        async with http_clients([port for _, port in children]) as remote:
            for n, ((process, _), http) in enumerate(zip(children, remote, strict=True)):
                await wait_healthy(http, process, tmp_path / f"serve-{n}.log")
            for burst, number in enumerate(NUMBERS):
                person = RESIDENT | {"nhs_number": number, "given_name": f"Burst{burst}"}
                answers = await asyncio.gather(*(remote[i % 2].post("/residents", json=person) for i in range(200)))
                statuses = sorted({a.status_code for a in answers})
                assert set(statuses) <= {201, 409}, [a.text for a in answers if a.status_code not in (201, 409)][:3]
                created = {a.json()["resident_id"] for a in answers if a.status_code == 201}
                assert len(created) == 1, created
    registered: dict[str, set[str]] = {}  # from the stream itself, not a read model
    info = await js.stream_info("CARE", subjects_filter=">")
    store = JetStreamEventStore(nc, js)
    for subject in (info.state.subjects or {}):
        for recorded in await store.read_resident(subject.split(".", 1)[1]):
            if isinstance(recorded.event, ResidentRegistered) and recorded.event.nhs_number:
                registered.setdefault(recorded.event.nhs_number, set()).add(recorded.resident_id)
    assert {number: len(ids) for number, ids in registered.items()} == dict.fromkeys(NUMBERS, 1)
