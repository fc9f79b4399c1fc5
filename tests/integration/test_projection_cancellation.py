"""Cancellation always stops a projection (issue 10 item 5). On Python 3.11 `asyncio.wait_for` returns the inner
result instead of raising when the task is cancelled in the same turn as the awaited thing completes, so a runner
waiting for its next delivery could swallow the cancel and run on for ever; and a cancel that cut a SQLite
statement off halfway left SQLAlchemy closing the connection behind the 30 s busy timeout. Each cancel here must
end the task; 5 s is a liveness bound (the task is done or it never will be), not a speed requirement."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from events.store import JetStreamEventStore
from projections.database import create_engine
from projections.resident_view_projection import ResidentViewProjection
from projections.runner import ProjectionRunner
from tests.integration.test_projection_runner import write_city

TIMES = 100
LIVENESS_S = 5.0


async def until(condition: object, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.002)


async def cancelled(task: asyncio.Task[None], n: int) -> None:
    done, _ = await asyncio.wait({task}, timeout=LIVENESS_S)
    if task not in done:  # say where everything is stuck
        for other in asyncio.all_tasks():
            other.print_stack()
    assert task in done, f"cancel {n}: the projection task was still running {LIVENESS_S:g}s after it"
    assert task.cancelled(), task


async def test_a_live_projection_stops_at_every_cancel(nc: NATS, js: JetStreamContext, engine: AsyncEngine) -> None:
    await write_city(JetStreamEventStore(nc, js), 3, 1)
    for n in range(TIMES):
        runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=50)
        task = asyncio.create_task(runner.run())
        await until(lambda: runner.status.state == "live")  # noqa: B023 - awaited before the next runner
        # A delivery arrives in the very turn the task is cancelled: what wait_for swallowed on 3.11.
        runner._feed._arrived.set()
        task.cancel()
        await cancelled(task, n)


@pytest.mark.parametrize("moment", [0.0, 0.003])
async def test_a_catching_up_projection_stops_at_every_cancel(nc: NATS, js: JetStreamContext, engine: AsyncEngine,
                                                              moment: float) -> None:
    store = JetStreamEventStore(nc, js)
    await write_city(store, 80, 50)  # 4,080 events, in batches of 5: far more than a hundred cancels apply
    for n in range(TIMES):
        runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=5)
        task = asyncio.create_task(runner.run())
        await until(lambda: runner.status.state == "catching_up")  # noqa: B023
        await asyncio.sleep(moment)
        task.cancel()
        await cancelled(task, n)
    assert runner.status.applied_seq < await store.last_seq()  # it was catching up all along


async def swallowing(work: Any) -> Any:
    """What nats-py's requests do on Python 3.11 when the caller is cancelled in the turn the reply lands: return
    the reply and drop the cancellation (asyncio.wait_for). Here deterministically: the cancel is caught."""
    with contextlib.suppress(asyncio.CancelledError):  # swallowed, as wait_for did
        await asyncio.sleep(30)
    return await work()


@pytest.mark.parametrize("where", ["taking the lease", "waiting out the database"])
async def test_a_cancellation_a_library_swallowed_still_stops_the_projection(
        nc: NATS, js: JetStreamContext, engine: AsyncEngine, where: str) -> None:
    """A full test run hung here: the projection's cancel fell into nats-py's KV create while it took its lease, was
    swallowed there, and the runner went on leading for ever; whoever awaited it waited for ever too."""
    await write_city(JetStreamEventStore(nc, js), 2, 1)
    nowhere = create_engine("sqlite+aiosqlite:////nonexistent-dir/read.db")
    runner = ProjectionRunner(nc, js, nowhere if where == "waiting out the database" else engine,
                              ResidentViewProjection(), batch=50)
    if where == "taking the lease":
        take = runner.lease.acquire
        runner.lease.acquire = lambda: swallowing(take)  # type: ignore[method-assign]
        task = asyncio.create_task(runner.run())
        await until(lambda: runner.status.state == "standby")
    else:
        task = asyncio.create_task(runner.run())
        await until(lambda: runner.status.state == "waiting_for_database")
        pause = runner._pause
        runner._pause = lambda failure: swallowing(lambda: pause(failure))  # type: ignore[method-assign]
        await until(lambda: runner.status.state != "waiting_for_database" or runner._retry_in >= 0.4)
        await asyncio.sleep(0.5)  # in the swallowing pause now
    try:
        task.cancel()
        await cancelled(task, 0)
        assert not runner.lease.held
    finally:
        await nowhere.dispose()
