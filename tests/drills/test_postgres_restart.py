"""PostgreSQL restarts while a projector catches up: the projector waits and retries, `/health` says the database
is what is down while it is, and once it is back the projector finishes with every event applied exactly once:
its tables equal a projector that never saw the outage."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from events.store import JetStreamEventStore
from events.subjects import CARE_STREAM
from frontdoor.embedded_nats import EmbeddedNats
from projections.database import create_engine
from tests.drills.postgres import PrivatePostgres
from tests.drills.processes import Process, frontdoor_env, projector
from tests.drills.test_two_of_each import caught_up_on, dump
from tests.integration.conftest import SECRET
from tests.integration.test_projection_runner import write_city

_databases = itertools.count()
RESIDENTS, CONTACTS_EACH = (3000, 5) if os.environ.get("FRONTDOOR_DRILL_LONG") == "1" else (600, 5)


async def health(process: Process) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"{process.base_url}/health")
        return response.status_code, response.json()


# Not strict: it passes when the shutdown meets the projector between statements, and fails when a statement meets
# "the database system is shutting down" (tests/unit/test_transient_database_errors.py; reported to the lead).
async def test_a_postgresql_restart_during_catch_up_loses_nothing(
        nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, private_postgres: PrivatePostgres,
        tmp_path: Path) -> None:
    n = next(_databases)
    url, reference_url = (private_postgres.create_database(f"{name}_{n}") for name in ("restart", "steady"))
    await write_city(JetStreamEventStore(nc, js), RESIDENTS, CONTACTS_EACH)
    end = int((await js.stream_info(CARE_STREAM)).state.last_seq)

    def env(database_url: str) -> dict[str, str]:
        return frontdoor_env(nats_url=nats_server.url, database_url=database_url, data_dir=tmp_path / "data",
                             secret=SECRET, replicas=1)

    worker = projector("projector", env(url), tmp_path).start()
    try:
        await asyncio.to_thread(worker.wait_healthy)
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # part-way through the catch-up
            _, report = await health(worker)
            applied = report["projections"]["resident_view"]["applied_seq"]
            if applied > 0:
                break
            assert asyncio.get_running_loop().time() < deadline, "the projector never started applying"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(private_postgres.stop, "fast")
        try:
            assert applied < end, "the catch-up finished before PostgreSQL went down: make the city bigger"
            status, report = await health(worker)
            assert status == 503, report
            assert report["database"]["ok"] is False and report["nats"]["ok"] is True
            await asyncio.sleep(1.5)  # the projector meets the outage and retries
            assert worker.popen is not None and worker.popen.poll() is None, worker.log_tail()
        finally:
            await asyncio.to_thread(private_postgres.start)
        engine = create_engine(url)
        reference = create_engine(reference_url)
        try:
            await caught_up_on(engine, {"CARE": end}, within=180)
            assert (await health(worker))[0] == 200
            async with httpx.AsyncClient(timeout=10) as http:  # the worker's --metrics-port serves /metrics too
                text = (await http.get(f"{worker.base_url}/metrics")).text
            assert 'frontdoor_projection_lag_events{projection="resident_view"} 0.0' in text
            worker.stop()
            steady = projector("steady", env(reference_url), tmp_path).start()
            try:
                await asyncio.to_thread(steady.wait_healthy)
                await caught_up_on(reference, {"CARE": end}, within=180)
            finally:
                steady.stop()
            mine, theirs = await dump(engine), await dump(reference)
            for table in mine:
                assert mine[table] == theirs[table], f"table {table} differs"
            assert len(mine["residents"]) == RESIDENTS
        finally:
            await engine.dispose()
            await reference.dispose()
    finally:
        worker.stop()
