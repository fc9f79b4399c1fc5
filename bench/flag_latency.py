"""Issue 5: a flag appears over HTTP within one second of the event that causes it, at 1,000 events/s of load.

A real `frontdoor serve` (API + projections + detector, one process) on the project's own nats-server. This
process writes background load straight to the store at a steady 1,000 events/s of contacts; meanwhile it registers
probe residents over HTTP, refers each to two teams for the same need, and polls GET /flags?resident_id= until the
parallel-referrals flag is there. Baseline, same run: how long the joined-up view takes to show the second referral
(GET /residents/{id}?min_seq=), i.e. read-your-writes of the plain projection.

Two shapes of load. "city": the contacts spread over 5,000 residents (registered, and projected, before the clock
starts), as a city's calls are: a resident rings now and then. "hot": all on 200 residents, each taking five
calls a second for the whole run, so every joined-up view grows by hundreds of contacts a minute and each write
re-serialises it; a stress case that no real front door sees, kept because it shows where the cost goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from datetime import UTC, datetime

import httpx
import nats

from bench.common import Row, city_person, envelope, info_row, percentile, temp_dir
from bench.http_contact import SECRET, start, stop, wait_healthy
from events.catalogue import Caller, ContactRecorded, ResidentRegistered
from events.errors import ConcurrencyConflict
from events.ids import uuid7
from events.store import JetStreamEventStore
from events.streams import ensure_streams
from frontdoor.api.auth import issue_token
from frontdoor.embedded_nats import EmbeddedNats, free_port

NAME = "flag_latency"
RATE = 1000.0
SHAPES = {"city": 5_000, "hot": 200}  # residents the load is spread over
LETTERS = str.maketrans("0123456789abcdef", "qrstuvwxyzbcdfgh")


async def _load_residents(store: JetStreamEventStore, count: int) -> dict[str, int]:
    """Registers `count` residents (spread over birth dates and postcodes, as a city's are), 32 at a time."""
    last: dict[str, int] = {}

    async def register(i: int) -> None:
        rid = uuid7()
        born, postcode = city_person(i)
        person = ResidentRegistered(given_name="Load", family_name=rid[-10:].translate(LETTERS).title(),
                                    date_of_birth=born, postcode=postcode)
        last[rid] = (await store.append(rid, [envelope(rid, person)], expected_seq=0)).seq

    for first in range(0, count, 32):
        await asyncio.gather(*(register(i) for i in range(first, min(first + 32, count))))
    return last


async def _background_load(store: JetStreamEventStore, last: dict[str, int], stop_at: float) -> int:
    """Contacts round the residents of `last` at a steady RATE per second, until `stop_at`."""
    residents = list(last)
    sent, started = 0, time.monotonic()
    caller = Caller(relationship="self")
    while time.monotonic() < stop_at:
        due = int((time.monotonic() - started) * RATE) - sent
        batch = []
        for _ in range(max(due, 0)):
            rid = residents[sent % len(residents)]
            # No needs: the load itself should not make the detector flag (and write to these residents).
            event = ContactRecorded(contact_id=uuid7(), channel="phone", caller=caller, needs=[],
                                    summary="load", outcome="advice")
            batch.append((rid, event))
            sent += 1
        for rid, event in batch:  # one resident at a time keeps the expected sequences right
            try:
                last[rid] = (await store.append(rid, [envelope(rid, event)], expected_seq=last[rid])).seq
            except ConcurrencyConflict:  # the detector wrote a flag to this resident: catch up, go on
                last[rid] = (await store.read_resident(rid))[-1].seq
        await asyncio.sleep(0.005)
    return sent


async def _caught_up(client: httpx.AsyncClient, within: float = 300.0) -> None:
    """Until every projection on the care stream has applied all of it (the registrations, before the clock)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        positions = (await client.get("/health")).json()["projections"].values()
        if all(p["behind"] in (0, None) for p in positions):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the projections did not catch up with the registrations within {within:.0f}s")


async def _probe(client: httpx.AsyncClient) -> tuple[float, float]:
    """Seconds from the second referral's answer until (the view shows it, the flag is listed)."""
    rid = (await client.post("/residents", json={"given_name": "Probe", "family_name": uuid7()[-10:].translate(
        LETTERS).title(), "date_of_birth": "1938-03-03", "postcode": "SO17 1AA"})).json()["resident_id"]
    await client.post(f"/residents/{rid}/referrals", json={"to_team": "ot-north", "need": "mobility and falls"})
    second = await client.post(f"/residents/{rid}/referrals", json={"to_team": "reab-north",
                                                                     "need": "mobility and falls"})
    t0 = time.perf_counter()
    await client.get(f"/residents/{rid}", params={"min_seq": second.json()["seq"]})
    view_s = time.perf_counter() - t0
    while not (await client.get("/flags", params={"resident_id": rid})).json()["flags"]:
        if time.perf_counter() - t0 > 30:
            return view_s, float("inf")
        await asyncio.sleep(0.01)
    return view_s, time.perf_counter() - t0


async def run(quick: bool) -> list[Row]:
    rows = await _run(quick, "city", workers=0)
    rows += await _run(quick, "city", workers=1)
    return rows + await _run(quick, "hot", workers=0)


async def _run(quick: bool, load_shape: str, *, workers: int) -> list[Row]:
    """`workers` extra `frontdoor project` processes: projections then spread over processes (one lease each)."""
    probes = 10 if quick else 100
    with temp_dir(NAME) as workdir:
        server = EmbeddedNats(workdir / "nats").start()
        port = free_port()
        env = os.environ | {"FRONTDOOR_NATS_URL": server.url, "FRONTDOOR_DATA_DIR": str(workdir / "data"),
                            "FRONTDOOR_JWT_SECRET": SECRET}
        env.pop("FRONTDOOR_DATABASE_URL", None)
        log = workdir / "serve.log"
        process = start([sys.executable, "-m", "frontdoor", "serve", "--port", str(port)], env, log)
        projectors = [start([sys.executable, "-m", "frontdoor", "project"], env, workdir / f"project-{n}.log")
                      for n in range(workers)]
        nc = await nats.connect(server.url)
        try:
            base = f"http://127.0.0.1:{port}"
            await asyncio.to_thread(wait_healthy, base, process, log)
            js = nc.jetstream()
            await ensure_streams(js)
            store = JetStreamEventStore(nc, js)
            token = issue_token(SECRET, sub="bench", role="call_handler")
            async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                         timeout=60) as client:
                last = await _load_residents(store, SHAPES[load_shape])
                await _caught_up(client)
                load_for = 6.0 + probes * 0.6
                started = time.monotonic()
                load = asyncio.create_task(_background_load(store, last, time.monotonic() + load_for))
                await asyncio.sleep(2.0)  # let the load settle before probing
                results = []
                for _ in range(probes):
                    results.append(await _probe(client))
                    await asyncio.sleep(0.3)
                sent = await load
                rate = sent / (time.monotonic() - started)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()
            stop(process)
            for projector in projectors:
                stop(projector)
            server.stop()
            warnings = [line for line in log.read_text().splitlines() if "WARNING" in line or "ERROR" in line]
            for line in warnings[-10:]:  # what the server complained of, beside the figures
                print(f"  serve: {line[:200]}", flush=True)
    views = [v for v, _ in results]
    flags = [f for _, f in results]
    p99 = percentile(flags, 99)
    shape = f"{load_shape} load ({SHAPES[load_shape]:,} residents), " + (
        f"serve + {workers} project" if workers else "serve alone")
    return [
        info_row(NAME, f"{shape}: background load written", rate, "events/s"),
        info_row(NAME, f"{shape}: flag visible over HTTP p50", percentile(flags, 50) * 1000, "ms",
                 percentile(views, 50) * 1000),
        Row(NAME, f"{shape}: flag visible over HTTP p99 (baseline: view shows the write)", p99 * 1000, "ms",
            percentile(views, 99) * 1000, None, p99 < 1.0, "< 1000 ms"),
        info_row(NAME, f"{shape}: flag visible over HTTP max", max(flags) * 1000, "ms", max(views) * 1000),
        info_row(NAME, f"{shape}: probes at {datetime.now(UTC):%H:%M} UTC", float(len(results)), "probes"),
    ]
