"""A projector killed with SIGKILL at random moments during a catch-up, and restarted, ten times: its tables
equal a fresh rebuild's row for row, and every event was applied exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.store import JetStreamEventStore
from events.streams import ensure_streams
from events.subjects import LEASES_BUCKET
from frontdoor.embedded_nats import EmbeddedNats
from projections.caseload_projection import CaseloadProjection
from projections.checkpoints import load_checkpoint
from projections.resident_view_projection import ResidentViewProjection
from projections.runner import ProjectionRunner
from projections.tables import assessments, referrals, resident_views, residents
from tests.conftest import database_url
from tests.integration.test_projection_runner import running, write_city

RESIDENTS, CONTACTS_EACH = 2000, 9  # 20,000 events
TABLES = (residents, resident_views, referrals, assessments)


def start_projector(nats_url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"FRONTDOOR_NATS_URL": nats_url, "FRONTDOOR_DATABASE_URL": database_url(tmp_path),
                        "FRONTDOOR_DATA_DIR": str(tmp_path / "data"), "FRONTDOOR_JWT_SECRET": "x" * 32}
    log = open(tmp_path / "projector.log", "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen([sys.executable, "-m", "frontdoor", "project"], env=env, stdout=log, stderr=log)


async def dump(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in await conn.execute(select(t))) for t in TABLES}


async def checkpoints(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        return await load_checkpoint(conn, "resident_view"), await load_checkpoint(conn, "caseload")


async def test_sigkilled_projector_converges_to_a_fresh_rebuild(nats_server: EmbeddedNats, nc: NATS,
                                                                js: JetStreamContext, engine: AsyncEngine,
                                                                tmp_path: Path) -> None:
    # A killed projector cannot release its lease: a short TTL lets the next one lead soon after.
    await js.delete_key_value(LEASES_BUCKET)
    await ensure_streams(js, lease_ttl_s=1.0)
    store = JetStreamEventStore(nc, js)
    await write_city(store, RESIDENTS, CONTACTS_EACH)
    last = await store.last_seq()
    assert last == RESIDENTS * (CONTACTS_EACH + 1)
    chance = random.Random(20261123)
    progress: list[int] = []
    for _ in range(10):
        projector = start_projector(nats_server.url, tmp_path)
        await asyncio.sleep(chance.uniform(1.5, 4.0))
        projector.send_signal(signal.SIGKILL)
        projector.wait()
        progress.append((await checkpoints(engine))[0])
    assert min(progress) > 0, f"the projector never got going: {progress}"
    projector = start_projector(nats_server.url, tmp_path)
    try:
        deadline = asyncio.get_running_loop().time() + 180
        while await checkpoints(engine) != (now := await store.last_seq(), now):
            assert projector.poll() is None, (tmp_path / "projector.log").read_text()[-2000:]
            assert asyncio.get_running_loop().time() < deadline, f"stuck at {await checkpoints(engine)} of {now}"
            await asyncio.sleep(0.1)
    finally:
        projector.send_signal(signal.SIGTERM)
        projector.wait(30)
    survived = await dump(engine)

    # Exactly once: every contact appears once in its resident's view, and each view is at its last event.
    import orjson

    contacts = [len(orjson.loads(row[1])["contacts"]) for row in survived["resident_views"]]
    assert len(contacts) == RESIDENTS and set(contacts) == {CONTACTS_EACH}

    for projection in (ResidentViewProjection(), CaseloadProjection()):
        runner = ProjectionRunner(nc, js, engine, projection, batch=500)
        await runner.reset()
        async with running(runner):
            assert await runner.wait_for(await store.last_seq(), 120)
    assert await dump(engine) == survived
