"""`frontdoor project --rebuild` without downtime (DESIGN §9, issue 15): every projection is built again from the
start of the stream into a second set of read models beside the live ones (`projections.shadow`), by runners of
their own (their own durable consumers and leases), while the live set goes on serving and following the
stream. Once the second set has caught up, it is switched in in one transaction; the second set and its
consumers are then removed. Killed half-way, the live set is untouched, and running it again goes on from where
the second set had come to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.bootstrap import nats_servers, projection_runners
from frontdoor.catch_up import start_runners, stream_ends
from frontdoor.services import Services
from projections.checkpoints import load_checkpoint
from projections.runner import ProjectionRunner
from projections.shadow import drop, open_shadow, seed_marks, switch

log = logging.getLogger("frontdoor.rebuild")
INSTANCE = "rebuild"
POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class Rebuilt:
    events: int  # the stream's last sequence when the second set was switched in
    seconds: float


@dataclass(frozen=True, slots=True)
class Done:
    """How much of a rebuild is done: events applied, every projection's counted (each applies its stream)."""

    applied: int
    total: int


def done_of(ends: Mapping[str, int], positions: Mapping[str, int]) -> Done:
    """The sum over the projections, not the least advanced one: a projection with nothing to do (an empty audit
    stream) held the bar at 0 for the whole of a 100,000-resident rebuild, and so did the two a helper process
    builds, whose runners here start only after it."""
    return Done(sum(min(positions.get(name, 0), end) for name, end in ends.items()), sum(ends.values()))


async def positions(runners: Mapping[str, ProjectionRunner], engine: AsyncEngine) -> dict[str, int]:
    """How far each runner has come: as it says, or, while a helper process builds its projection, as the
    checkpoint the helper writes into the second set says."""
    async with engine.connect() as conn:
        return {name: max(r.status.applied_seq, await load_checkpoint(conn, name)) for name, r in runners.items()}


async def rebuild_beside(services: Services, *, progress: bool = True,
                         report: Callable[[Done], None] | None = None) -> Rebuilt:
    """`report` hears how much is done at every poll (the progress bar shows the same)."""
    began = asyncio.get_running_loop().time()
    shadow = await open_shadow(services.engine)
    await seed_marks(shadow)
    runners = projection_runners(services, engine=shadow.engine, instance=INSTANCE)
    # Far behind (a rebuild from zero is), the detector and the flags are caught up by a helper process.
    tasks = await start_runners(services, runners, ",".join(nats_servers(services.nc)), second_set=shadow.engine)
    # Within 80 columns (Rich cuts a line that does not fit, the counts first). The counts are events summed over
    # the projections (see done_of).
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=16), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:,.0f} events/s"), TimeRemainingColumn())
    try:
        with Progress(*columns, disable=not progress, transient=False) as bar:
            task = bar.add_task("rebuilding", total=None, rate=0.0)
            # Near enough to try the switch: every event that was in the streams a poll ago applied. The ends of
            # this very moment are no test: under steady writes a runner is always a batch short of them. The
            # switch itself holds the live set still and lets the second set come up to it.
            earlier: dict[str, int] | None = None
            while True:
                _raise_if_ended(tasks)
                ends = await stream_ends(services, runners)
                done = done_of(ends, await positions(runners, shadow.engine))
                elapsed = asyncio.get_running_loop().time() - began
                bar.update(task, total=done.total, completed=done.applied,
                           rate=done.applied / elapsed if elapsed else 0.0)
                if report is not None:
                    report(done)
                if earlier is not None and all(r.status.applied_seq >= earlier[name] for name, r in runners.items()) \
                        and await switch(shadow):
                    bar.update(task, description="switched in")
                    break
                earlier = ends
                await asyncio.sleep(POLL_S)
    finally:
        for running in tasks:
            running.cancel()
        await asyncio.wait(tasks, timeout=10)
    for runner in runners.values():
        await runner.retire()
    await drop(shadow)
    last = await services.store.last_seq()
    seconds = asyncio.get_running_loop().time() - began
    log.info("rebuilt every read model beside the live ones and switched them in: %d events in %.1f s", last,
             seconds)
    return Rebuilt(last, seconds)


def _raise_if_ended(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if task.done():
            task.result()  # a runner that ended has failed: say why
            raise RuntimeError(f"{task.get_name()} ended")
