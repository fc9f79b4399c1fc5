"""A second set of read models, built beside the live ones and switched in in one transaction (issue 15: a
rebuild without downtime). The API keeps answering from the live tables until the switch, and never from a
half-built set: the switch replaces every table's rows in one transaction, which readers see all or nothing of.

- SQLite: the second set is a file of its own beside the live one (`<live>.rebuild`), attached for the switch.
- PostgreSQL: a schema of its own (`frontdoor_rebuild`) in the same database, reached through SQLAlchemy's
  schema translation, so every statement of every projection runs unchanged against it.

The set survives a crash of the rebuild: run again, the projections go on from its own checkpoints. High-water
marks (what the detector has emitted, what the team router has published) are copied from the live set when the
second set is new, so the rebuild emits nothing the live set already did.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.database import create_engine, is_sqlite, sqlite_writers, write_transaction
from projections.tables import checkpoints, metadata

SCHEMA = "frontdoor_rebuild"
ATTACHED = "frontdoor_rebuild"
# The longest the switch holds the live set still for the second set to come up to it (live writers wait;
# readers do not), and how often it looks meanwhile.
FENCE_S = 5.0
FENCE_POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class Shadow:
    live: AsyncEngine
    engine: AsyncEngine
    sqlite_file: Path | None  # None on PostgreSQL


def _sqlite_file(live: AsyncEngine) -> Path:
    database = live.url.database
    if not database or database == ":memory:":
        raise ValueError("a rebuild beside the live read models needs them in a file")
    return Path(database).with_name(Path(database).name + ".rebuild")


async def open_shadow(live: AsyncEngine) -> Shadow:
    """The second set, created if it is not there (and kept if it is: a rebuild that was cut off goes on)."""
    if is_sqlite(live):
        path = _sqlite_file(live)
        shadow = Shadow(live, create_engine(f"sqlite+aiosqlite:///{path}"), path)
    else:
        async with live.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
        shadow = Shadow(live, live.execution_options(schema_translate_map={None: SCHEMA}), None)
    async with shadow.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return shadow


async def seed_marks(shadow: Shadow) -> None:
    """Copies the live high-water marks (checkpoint rows named `<projection>.<mark>`) the second set lacks."""
    async with shadow.live.connect() as conn:
        live = {name: seq for name, seq in await conn.execute(select(checkpoints.c.projection, checkpoints.c.seq))
                if "." in name}
    async with write_transaction(shadow.engine) as conn:
        have = set(await conn.scalars(select(checkpoints.c.projection)))
        missing = [{"projection": name, "seq": seq} for name, seq in sorted(live.items()) if name not in have]
        if missing:
            await conn.execute(insert(checkpoints), missing)


async def switch(shadow: Shadow) -> bool:
    """Replaces the rows of every live table with the second set's, in one transaction, once the second set has
    come at least as far as the live one for every projection. The live set is held still for it (its write lock
    taken first), and the second set, which goes on applying meanwhile, is given up to FENCE_S to come up to it.
    Returns False, having changed nothing, if it has not: a read after the switch must never go backwards. A live
    runner elsewhere then finds its checkpoint moved and goes on from it.

    Without the hold, both sets follow the same stream under live writes and the second had to be ahead of a
    moving live set at the very moment of a check; on a slow machine under steady reads and writes it never was,
    and a rebuild in CI went on for ten minutes without switching."""
    tables = metadata.sorted_tables
    if shadow.sqlite_file is not None:
        async with sqlite_writers(shadow.live), shadow.live.connect() as conn:
            # ATTACH cannot run inside a transaction: before it, and DETACH after the commit.
            await conn.execute(text(f"ATTACH DATABASE :path AS {ATTACHED}"), {"path": str(shadow.sqlite_file)})
            await conn.commit()
            try:
                # The write lock of the live file alone: BEGIN IMMEDIATE would take the attached file's too and
                # stop the second set's runners. A write that changes nothing takes it; the attached file is
                # first read (its snapshot fixed) only once the second set has come far enough.
                await conn.execute(text("BEGIN"))
                await conn.execute(text(f'DELETE FROM main."{checkpoints.name}" WHERE 0'))
                live = await _positions(conn, "main")
                if not (await _second_reaches(shadow, live)
                        and _caught_up(live, await _positions(conn, ATTACHED))):
                    await conn.rollback()
                    return False
                for table in reversed(tables):
                    await conn.execute(text(f'DELETE FROM main."{table.name}"'))
                for table in tables:
                    await conn.execute(text(f'INSERT INTO main."{table.name}" SELECT * FROM '
                                            f'{ATTACHED}."{table.name}"'))
                await conn.commit()
                return True
            except BaseException:
                await conn.rollback()
                raise
            finally:
                await conn.execute(text(f"DETACH DATABASE {ATTACHED}"))
                await conn.commit()
    others = [t for t in tables if t.name != checkpoints.name]
    # One snapshot for the whole switch. Under PostgreSQL's default (READ COMMITTED) each INSERT ... SELECT read
    # the second set as it was at that statement, while its runners went on committing: the checkpoints, copied
    # last, could then name events whose rows were copied before they landed (an audit log short of its last
    # reads). REPEATABLE READ freezes the view at the first SELECT, after the locks below are held and the second
    # set has come far enough.
    snapshot = shadow.live.execution_options(isolation_level="REPEATABLE READ")
    try:
        async with snapshot.begin() as conn:
            # Every table locked before the switch reads or writes any: the checkpoints last, as live runners
            # write their rows before their checkpoint. They wait here until the switch is done.
            names = ", ".join(f'"{t.name}"' for t in [*others, checkpoints])
            await conn.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
            async with shadow.live.connect() as aside:  # read here, the live positions would fix the snapshot
                live = await _positions(aside, None)
            if not (await _second_reaches(shadow, live)
                    and _caught_up(await _positions(conn, None), await _positions(conn, SCHEMA))):
                raise _Behind
            for table in reversed(tables):
                await conn.execute(delete(table))
            for table in tables:
                columns = ", ".join(f'"{c.name}"' for c in table.columns)
                await conn.execute(text(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '
                                        f'FROM "{SCHEMA}"."{table.name}"'))
    except _Behind:
        return False  # rolled back: nothing changed
    except DBAPIError as exc:
        if not any(word in str(exc).lower() for word in ("deadlock", "could not serialize")):
            raise
        return False  # PostgreSQL chose the switch to break a lock cycle: rolled back, tried again later
    return True


async def _second_reaches(shadow: Shadow, live: dict[str, int]) -> bool:
    """Whether the second set's checkpoints come up to `live` within FENCE_S, read through connections of its own
    (the switch's transaction must not read the second set before it has)."""
    deadline = asyncio.get_running_loop().time() + FENCE_S
    while True:
        async with shadow.engine.connect() as conn:
            if _caught_up(live, await _positions(conn, None if shadow.sqlite_file is not None else SCHEMA)):
                return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(FENCE_POLL_S)


class _Behind(Exception):
    pass


async def _positions(conn: AsyncConnection, schema: str | None) -> dict[str, int]:
    where = f'"{schema}".' if schema else ""
    rows = await conn.execute(text(f'SELECT projection, seq FROM {where}"{checkpoints.name}"'))
    return {str(name): int(seq) for name, seq in rows}


def _caught_up(live: dict[str, int], second: dict[str, int]) -> bool:
    return all(second.get(name, 0) >= seq for name, seq in live.items() if "." not in name)


async def drop(shadow: Shadow) -> None:
    """Removes the second set (after the switch, or to start a rebuild over)."""
    await shadow.engine.dispose()
    if shadow.sqlite_file is not None:
        await asyncio.to_thread(_remove, shadow.sqlite_file)
        return
    async with shadow.live.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
