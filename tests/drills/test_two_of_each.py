"""Two API processes and two projector processes against one cluster and one PostgreSQL give the same read models
as one projector alone, even when the active projector is SIGKILLed part-way: the lease moves, nothing is applied
twice or lost. The reference is a single `frontdoor project` replaying the same streams into a second database."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.subjects import AUDIT_STREAM, CARE_STREAM
from frontdoor.api.auth import issue_token
from frontdoor.projection_lag import KNOWN
from projections.checkpoints import load_checkpoint
from projections.database import create_engine
from projections.tables import metadata
from tests.cluster import LoopbackCluster
from tests.drills.postgres import PrivatePostgres
from tests.drills.processes import Process, api, frontdoor_env, projector
from tests.drills.workload import Writes, varied_work, write_contacts
from tests.integration.conftest import SECRET, auth

_databases = itertools.count()
LAZY_TABLES = {"projection_checkpoints"}  # positions past ignored events are written lazily: compared apart


async def dump(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in await conn.execute(select(t))), key=repr)
                for t in metadata.sorted_tables if t.name not in LAZY_TABLES}


async def caught_up(engine: AsyncEngine, cluster: LoopbackCluster, within: float = 90.0) -> None:
    nc = await nats.connect(servers=cluster.urls)
    try:
        await settled(engine, nc.jetstream(), within)
    finally:
        await nc.close()


async def settled(engine: AsyncEngine, js: JetStreamContext, within: float = 90.0) -> None:
    """Caught up on streams that did not grow meanwhile: the detector appends its flags after the events that cause
    them, so ends read once can be reached while a flag is still on its way to the views (a restore drill in CI
    compared a view before its flag with the rebuilt one after it)."""
    while True:
        ends = await stream_ends(js)
        await caught_up_on(engine, ends, within)
        if await stream_ends(js) == ends:
            return


async def stream_ends(js: JetStreamContext) -> dict[str, int]:
    return {s: int((await js.stream_info(s)).state.last_seq) for s in (CARE_STREAM, AUDIT_STREAM)}


async def caught_up_on(engine: AsyncEngine, ends: dict[str, int], within: float = 90.0) -> None:
    """Waits until every projection's checkpoint has reached its stream's end (a stream not in `ends`: 0)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with engine.connect() as conn:
            behind = {name: ends.get(stream, 0) - await load_checkpoint(conn, name)
                      for name, stream in KNOWN.items()}
        if all(b <= 0 for b in behind.values()):
            return
        assert asyncio.get_running_loop().time() < deadline, f"projections still behind: {behind}"
        await asyncio.sleep(0.2)


async def active_projector(projectors: list[Process]) -> Process | None:
    async with httpx.AsyncClient(timeout=5) as http:
        for process in projectors:
            with contextlib.suppress(httpx.HTTPError):
                health = (await http.get(f"{process.base_url}/health")).json()
                if health["projections"]["resident_view"]["state"] in ("live", "catching_up"):
                    return process
    return None


async def test_two_apis_and_two_projectors_equal_one_projector_after_a_kill(
        cluster: LoopbackCluster, private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    n = next(_databases)
    shared_url = private_postgres.create_database(f"two_each_{n}")
    reference_url = private_postgres.create_database(f"reference_{n}")

    def env(database_url: str) -> dict[str, str]:
        return frontdoor_env(nats_url=cluster.url, database_url=database_url, data_dir=tmp_path / "data",
                             secret=SECRET)

    projectors = [projector(f"projector-{i}", env(shared_url), tmp_path).start() for i in (1, 2)]
    for p in projectors:
        await asyncio.to_thread(p.wait_healthy)
    apis = [api(f"api-{i}", env(shared_url), tmp_path).start() for i in (1, 2)]
    everything = [*projectors, *apis]
    try:
        for p in apis:
            await asyncio.to_thread(p.wait_healthy)
        token = issue_token(SECRET, sub="drill", role="call_handler")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=apis[0].base_url, timeout=30, headers=headers) as first:
            residents = [(await first.post("/residents", json={
                "given_name": "Ivy", "family_name": f"Two{k}", "date_of_birth": "1950-01-0" + str(k + 1),
                "postcode": "SO14 7LY"})).json()["resident_id"] for k in range(4)]
            writes, stop = Writes(), asyncio.Event()
            load = asyncio.create_task(write_contacts(apis[1].base_url, token, residents, clients=4, stop=stop,
                                                      writes=writes))
            teams = {t: auth("team", t, sub=f"{t}-1") for t in ("dn-central", "ot-central")}
            varied = asyncio.create_task(varied_work(first, teams))
            await asyncio.sleep(1.5)
            active = await active_projector(projectors)
            assert active is not None, "neither projector holds the resident_view lease"
            active.kill()  # part-way: the other processes take the leases over once they expire
            await asyncio.wait_for(varied, 120)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.wait_for(load, 60)
        assert not writes.abandoned

        shared = create_engine(shared_url)
        reference = create_engine(reference_url)
        try:
            await caught_up(shared, cluster)
            for p in everything:  # leases are per cluster: the reference must be alone to take them
                p.stop()
            care_before = await _care_last_seq(cluster)
            alone = projector("reference", env(reference_url), tmp_path).start()
            everything.append(alone)
            await asyncio.to_thread(alone.wait_healthy)
            await caught_up(reference, cluster)
            alone.stop()
            assert await _care_last_seq(cluster) == care_before  # replaying emitted nothing new
            mine, theirs = await dump(shared), await dump(reference)
            for table in mine:
                assert mine[table] == theirs[table], f"table {table} differs"
            assert mine["resident_views"] and mine["flags"]
        finally:
            await shared.dispose()
            await reference.dispose()
    finally:
        for p in everything:
            p.stop()


async def _care_last_seq(cluster: LoopbackCluster) -> int:
    nc = await nats.connect(servers=cluster.urls)
    try:
        return int((await nc.jetstream().stream_info(CARE_STREAM)).state.last_seq)
    finally:
        await nc.close()
