"""Catch-up folds windows of events in memory and writes each touched document once per window (issue 15 item
3): the rows are the same whatever the window, one event at a time included. On a workload with every kind of
event (over HTTP) plus a demo city, every projection is rebuilt with windows of 1, 7 and 10,000 events and each
rebuild's tables equal the live ones, row for row."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import RecordedEvent
from frontdoor.bootstrap import all_projections
from frontdoor.demo_city.writer import write_city
from frontdoor.services import Services
from projections.projection import Projection
from projections.runner import ProjectionRunner
from tests.integration.test_rebuild_equality import DEADLINE_S, caught_up, dump, stream_of, tables_of, workload


async def test_windows_of_1_7_and_10000_events_give_the_rows_of_the_live_projections(
        client: httpx.AsyncClient, services: Services) -> None:
    await workload(client)
    await write_city(services, residents=40, seed=3, progress=False, today=date(2026, 11, 23))
    ends = await caught_up(services, services.runners)
    projections = all_projections(services)
    tables = tables_of(projections)
    live = await dump(services, tables)
    care = await services.store.count()
    for task in services.tasks:
        task.cancel()
    for task in services.tasks:
        with contextlib.suppress(BaseException):
            await task

    for window in (1, 7, 10_000):
        sizes: list[int] = []
        for projection in projections:
            watch_batches(projection, sizes)
            # Pulls of 3 events: a window is made of several pulls, as a real catch-up's is of 500-event pulls.
            runner = ProjectionRunner(services.nc, services.js, services.engine, projection,
                                      batch=min(window, 3), window=window, stream=stream_of(projection))
            await runner.reset()
            task = asyncio.create_task(runner.run())
            try:
                assert await runner.wait_for(ends[stream_of(projection)], DEADLINE_S), (window, runner.status)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert runner.status.parked == 0 and runner.status.superseded == 0
        # Windows were applied whole: more than one pull's events at once (never more than the window).
        assert max(sizes) <= window and (max(sizes) > 3 if window > 3 else max(sizes) == window), (window, sizes)
        rebuilt = await dump(services, tables)
        for table in tables:
            assert rebuilt[table.name] == live[table.name], (window, table.name)
    assert await services.store.count() == care  # replaying emitted nothing


def watch_batches(projection: Projection, sizes: list[int]) -> None:
    """Notes the size of every batch the runner hands the projection."""
    apply = projection.apply

    async def counted(conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        sizes.append(len(batch))
        await apply(conn, batch)

    setattr(projection, "apply", counted)  # noqa: B010 - on this instance only
