"""The switch of a rebuilt second set (issue 15) against a live set that is still being written: the live set is
held still and the second set, going on meanwhile, is let come up to it; a second set that does not come up in
time changes nothing. On SQLite (the second set a file of its own) and PostgreSQL (a schema of its own)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from projections import shadow as shadow_module
from projections.database import write_transaction
from projections.shadow import Shadow, drop, open_shadow, switch
from projections.tables import checkpoints, router_residents

LIVE_AT = 120


async def at(engine: AsyncEngine, seq: int, *, rows: int) -> None:
    """The read models of `engine` as a projection that has applied up to `seq`, with `rows` rows of its own."""
    async with write_transaction(engine) as conn:
        await conn.execute(checkpoints.delete().where(checkpoints.c.projection == "team_router"))
        await conn.execute(insert(checkpoints).values(projection="team_router", seq=seq))
        await conn.execute(router_residents.delete())
        if rows:
            await conn.execute(insert(router_residents), [row(n) for n in range(rows)])


def row(n: int) -> dict[str, object]:
    return {"resident_id": f"resident-{n}", "teams": "[]", "consent": None}


async def advance_later(shadow: Shadow, to: int, after_s: float) -> None:
    """The second set's runner, committing one more batch a moment after the switch began waiting."""
    await asyncio.sleep(after_s)
    async with write_transaction(shadow.engine) as conn:
        await conn.execute(update(checkpoints).where(checkpoints.c.projection == "team_router").values(seq=to))
        await conn.execute(insert(router_residents), [row(1000)])


async def checkpoint(engine: AsyncEngine) -> int | None:
    async with engine.connect() as conn:
        return await conn.scalar(select(checkpoints.c.seq).where(checkpoints.c.projection == "team_router"))


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return len((await conn.execute(select(router_residents))).all())


async def test_the_switch_waits_for_a_second_set_a_batch_behind_and_takes_its_rows(engine: AsyncEngine) -> None:
    shadow = await open_shadow(engine)
    try:
        await at(engine, LIVE_AT, rows=2)
        await at(shadow.engine, LIVE_AT - 5, rows=3)  # behind the live set: its next batch is on its way
        catching_up = asyncio.create_task(advance_later(shadow, LIVE_AT + 1, after_s=0.5))
        assert await switch(shadow)
        await catching_up
        assert await checkpoint(engine) == LIVE_AT + 1
        assert await count_rows(engine) == 4, "the second set's rows, its last batch included"
    finally:
        await drop(shadow)


async def test_a_second_set_that_does_not_come_up_in_time_changes_nothing(
        engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shadow_module, "FENCE_S", 0.3)
    shadow = await open_shadow(engine)
    try:
        await at(engine, LIVE_AT, rows=2)
        await at(shadow.engine, LIVE_AT - 5, rows=3)
        assert not await switch(shadow)
        assert await checkpoint(engine) == LIVE_AT
        assert await count_rows(engine) == 2
        assert await checkpoint(shadow.engine) == LIVE_AT - 5, "the second set is kept, to go on from"
    finally:
        await drop(shadow)


async def test_live_writes_wait_for_the_switch_and_land_after_it(engine: AsyncEngine) -> None:
    """A live runner's batch that comes while the switch holds the live set is written after the switch, never
    lost under it or copied over."""
    shadow = await open_shadow(engine)
    try:
        await at(engine, LIVE_AT, rows=2)
        await at(shadow.engine, LIVE_AT - 5, rows=3)
        switching = asyncio.create_task(switch(shadow))
        await asyncio.sleep(0.1)  # the switch now holds the live set and waits for the second

        async def live_batch() -> None:
            async with write_transaction(engine) as conn:
                await conn.execute(insert(router_residents), [row(2000)])

        live = asyncio.create_task(live_batch())
        await asyncio.sleep(0.2)
        assert not live.done(), "the live set is held still while the switch waits"
        await advance_later(shadow, LIVE_AT + 1, after_s=0)
        assert await switching
        await live
        assert await count_rows(engine) == 5  # three of the second set, its last batch, then the live batch
    finally:
        await drop(shadow)
