"""The read-model database: SQLite by default, PostgreSQL for several processes. Same code on both."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# SQLite has one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy handler
# (up to 100 ms a turn) and tries again: with six projections committing all the time, one of them could miss
# its turn for over a second while the others went on. Inside one process they queue on this lock instead, in
# order, woken the moment it is free. (Several processes still meet in the busy handler: use PostgreSQL there.)
_SQLITE_WRITERS: WeakKeyDictionary[Any, WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = \
    WeakKeyDictionary()


T = TypeVar("T")
# How long a new SQLite file's first connections keep trying to switch it to WAL (`_switch_to_wal`).
WAL_SWITCH_WITHIN_S = 5.0
# How long a cancelled task lets its database work (one transaction) finish before cutting it off.
FINISH_WITHIN_S = 1.0


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
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _switch_to_wal(cursor: Any) -> None:
    """The switch to WAL of a new file fails at once ("database is locked", SQLite's busy handler is not asked)
    while another process holds the file, as `serve` and its projector child did starting on a new data
    directory. The mode stays with the file, so only a new file's first connections meet this: they try again,
    a few milliseconds apart, for up to WAL_SWITCH_WITHIN_S."""
    deadline = time.monotonic() + WAL_SWITCH_WITHIN_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError, wrapped by SQLAlchemy's asyncio adapter
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()`, one at a time per process on SQLite."""
    if not is_sqlite(engine):
        async with engine.begin() as conn:
            yield conn
        return
    async with sqlite_writers(engine), engine.begin() as conn:
        yield conn


def sqlite_writers(engine: AsyncEngine) -> asyncio.Lock:
    """The lock this process's writers of a SQLite file queue on (SQLite's own busy handler starved them)."""
    # Per event loop (a lock belongs to one; tests run many), held weakly so a closed loop takes its lock along.
    locks = _SQLITE_WRITERS.setdefault(engine.sync_engine, WeakKeyDictionary())
    return locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


async def unbroken(work: Coroutine[Any, Any, T]) -> T:
    """Runs database work so that cancelling the caller does not cut it off halfway. SQLAlchemy's asyncio layer
    answers a statement cancelled in flight by invalidating and closing the connection, and with aiosqlite that
    close could wait behind SQLite's 30 s busy timeout: a cancelled projection then took 30 s to stop. Here the
    work (one transaction: milliseconds) may finish, for up to FINISH_WITHIN_S, and the cancellation is delivered
    once it has; only work still going after that is cut off."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.wait({task}, timeout=FINISH_WITHIN_S)
        finally:
            if not task.done():
                task.cancel()
            task.add_done_callback(_retrieved)  # its outcome no longer has a reader
        raise


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.exception()


async def probe(engine: AsyncEngine, within: float) -> None:
    """Raises unless the database can be written within `within` seconds. On SQLite a read says nothing (WAL
    readers go on while another process holds the write lock and every projection waits out its 30 s busy
    timeout), so the probe takes the write lock and lets it go at once, on a connection of its own whose busy
    timeout is `within`: it never leaves a half-cancelled statement behind. On PostgreSQL, a query answered."""
    if is_sqlite(engine):
        path = engine.url.database
        if path and path != ":memory:":
            await asyncio.to_thread(_take_sqlite_write_lock, path, within)
        return
    async with asyncio.timeout(within), engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def _take_sqlite_write_lock(path: str, within: float) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=within, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise sqlite3.OperationalError(f"{exc} (no write lock within {within:g} s)") from exc
    finally:
        conn.close()


# Any constant will do, as long as only table creation takes it: it serialises `create_all` across processes.
_CREATE_TABLES_LOCK = 0x66726F6E74  # "front"
_CREATE_ATTEMPTS = 20  # more than there are tables: each try creates at least the one another process had not


async def create_tables(engine: AsyncEngine, metadata: Any) -> None:
    """`metadata.create_all`, safe when several processes start together on one database: concurrent CREATE
    TABLEs of the same name fail (on PostgreSQL a unique violation in pg_type, as two APIs and two projectors
    starting at once showed; on SQLite "table … already exists", as `serve` and its projector child starting on a
    new data directory showed). On PostgreSQL they take turns behind a transaction-scoped advisory lock, the later
    ones finding the tables. SQLite creates each table in a statement of its own, and holding its write lock
    over create_all made the others' first statement (the switch to WAL) fail at once: there, whoever finds a
    table made meanwhile looks again, and creates what is still missing."""
    if is_sqlite(engine):
        await _create_sqlite_tables(engine, metadata)
        return
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_TABLES_LOCK})
        await conn.run_sync(metadata.create_all)


async def _create_sqlite_tables(engine: AsyncEngine, metadata: Any) -> None:
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            return
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == _CREATE_ATTEMPTS:
                raise
