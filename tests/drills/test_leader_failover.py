"""The CARE stream leader is SIGKILLed under continuous HTTP writes (20 clients, an Idempotency-Key each, retried
on failure) and restarted later: every write that got a 2xx is in the stream exactly once, writes succeed again
after the kill, the projections catch up, and no request hangs past its timeout.

The time from the kill to the first successful write is printed as a figure, never asserted (bench/failover.py
measures it ten times for docs/BENCHMARKS.md). FRONTDOOR_DRILL_LONG=1 (`make drills`) writes for longer."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import nats

from events.store import JetStreamEventStore
from events.subjects import CARE_STREAM
from frontdoor.api.auth import issue_token
from tests.cluster import LoopbackCluster
from tests.conftest import database_url
from tests.drills.processes import api, frontdoor_env
from tests.drills.workload import Writes, contacts_in_stream, write_contacts
from tests.integration.conftest import RESIDENT, SECRET

LONG = os.environ.get("FRONTDOOR_DRILL_LONG") == "1"
CLIENTS = 20
BEFORE_KILL_S, DOWN_S, AFTER_RESTART_S = (10.0, 20.0, 20.0) if LONG else (2.0, 4.0, 2.0)


async def register(http: httpx.AsyncClient, count: int) -> list[str]:
    ids = []
    for n in range(count):
        person = {k: v for k, v in RESIDENT.items() if k != "nhs_number"} | {"family_name": f"Drill{n}"}
        response = await http.post("/residents", json=person)
        assert response.status_code == 201, response.text
        ids.append(response.json()["resident_id"])
    return ids


async def test_killing_the_care_leader_under_writes_loses_and_doubles_nothing(
        cluster: LoopbackCluster, tmp_path: Path) -> None:
    env = frontdoor_env(nats_url=cluster.url, database_url=database_url(tmp_path), data_dir=tmp_path / "data",
                        secret=SECRET)
    server = api("api-1", env, tmp_path).start()
    try:
        await asyncio.to_thread(server.wait_healthy)
        token = issue_token(SECRET, sub="drill", role="call_handler")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            residents = await register(http, CLIENTS // 2)  # two clients per resident: conflicts happen too
            writes, stop = Writes(), asyncio.Event()
            load = asyncio.create_task(write_contacts(server.base_url, token, residents, clients=CLIENTS,
                                                      stop=stop, writes=writes))
            await asyncio.sleep(BEFORE_KILL_S)
            leader = await cluster.async_stream_leader(CARE_STREAM)
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster.kill, leader)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(cluster.restart, leader)
            await asyncio.sleep(AFTER_RESTART_S)
            stop.set()
            await asyncio.wait_for(load, 120)

            recovered = writes.first_success_after(killed_at)
            print(f"\nkilled {leader}; first successful write {recovered:.2f} s after the kill; "
                  f"{len(writes.accepted)} writes accepted over {len(writes.attempts)} attempts; "
                  f"failed attempts by status: {dict(writes.failures())}")
            assert recovered is not None, "no write succeeded after the leader was killed"
            assert writes.timeouts == 0, f"{writes.timeouts} requests hung past {15} s"
            # Unavailable is a 503 the client retries; a 500 says something was not handled (an idempotency
            # record that could not be kept once was, while the bucket's leader was the node killed).
            assert "500" not in writes.failures(), server.log_tail()
            assert not writes.abandoned, f"writes that never succeeded: {writes.abandoned[:5]}"

            nc = await nats.connect(servers=cluster.urls)
            try:
                in_stream = await contacts_in_stream(JetStreamEventStore(nc, nc.jetstream()))
            finally:
                await nc.close()
            accepted = {contact for _, contact, _ in writes.accepted.values()}
            doubled = {c: n for c, n in in_stream.items() if n != 1}
            assert not doubled, f"contacts written more than once: {list(doubled.items())[:5]}"
            missing = accepted - set(in_stream)
            assert not missing, f"2xx writes missing from the stream: {list(missing)[:5]}"
            assert set(in_stream) == accepted  # every logical write was retried to success: nothing else landed

            last = max(seq for _, _, seq in writes.accepted.values())
            for resident_id in residents:
                # A read writes its audit entry first: while the AUDIT stream's own replicas still elect a leader
                # that is a 503 with Retry-After (no audit, no record), which a client retries, as here.
                deadline = asyncio.get_running_loop().time() + 20
                while True:
                    view = await http.get(f"/residents/{resident_id}", params={"min_seq": last})
                    if view.status_code != 503 or asyncio.get_running_loop().time() > deadline:
                        break
                    await asyncio.sleep(float(view.headers.get("retry-after", "1")))
                assert view.status_code == 200, view.text
                mine = {c for r, c, _ in writes.accepted.values() if r == resident_id}
                assert {c["contact_id"] for c in view.json()["contacts"]} == mine
    finally:
        server.stop()
