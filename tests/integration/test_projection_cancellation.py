"""Cancellation always stops a projection (issue 10 item 5). On Python 3.11 `asyncio.wait_for` returns the inner
result instead of raising when the task is cancelled in the same turn as the awaited thing completes, so a runner
waiting for its next delivery could swallow the cancel and run on for ever; and a cancel that cut a SQLite
statement off halfway left SQLAlchemy closing the connection behind the 30 s busy timeout. Each cancel here must
end the task; 5 s is a liveness bound (the task is done or it never will be), not a speed requirement."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from events.store import JetStreamEventStore
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
