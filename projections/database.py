"""The read-model database: SQLite by default, PostgreSQL for several processes. Same code on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# SQLite has one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy handler
# (up to 100 ms a turn) and tries again: with six projections committing all the time, one of them could miss
# its turn for over a second while the others went on. Inside one process they queue on this lock instead, in
# order, woken the moment it is free. (Several processes still meet in the busy handler: use PostgreSQL there.)
_SQLITE_WRITERS: WeakKeyDictionary[Any, WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = \
    WeakKeyDictionary()


def async_url(url: str) -> str:
    """Accepts the plain forms people type and picks the async driver we ship."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the API read while a projection writes; NORMAL sync is durable across process crashes
            # (the stream, not this file, is the source of truth, so a power cut costs a replay, not data).
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()`, one at a time per process on SQLite."""
    if not is_sqlite(engine):
        async with engine.begin() as conn:
            yield conn
        return
    # Per event loop (a lock belongs to one; tests run many), held weakly so a closed loop takes its lock along.
    locks = _SQLITE_WRITERS.setdefault(engine.sync_engine, WeakKeyDictionary())
    lock = locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.begin() as conn:
        yield conn


# Any constant will do, as long as only table creation takes it: it serialises `create_all` across processes.
_CREATE_TABLES_LOCK = 0x66726F6E74  # "front"


async def create_tables(engine: AsyncEngine, metadata: Any) -> None:
    """`metadata.create_all`, safe when several processes start together on one PostgreSQL: concurrent CREATE
    TABLEs of the same name fail there (a unique violation in pg_type), as two APIs and two projectors starting
    at once showed. A transaction-scoped advisory lock makes them take turns; the later ones find the tables."""
    async with engine.begin() as conn:
        if not is_sqlite(engine):
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_TABLES_LOCK})
        await conn.run_sync(metadata.create_all)
