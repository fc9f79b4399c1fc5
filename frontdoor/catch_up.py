"""A projector far behind its stream catches up on two cores (issue 15).

All the projections of a process share one core: a 20,000-resident city (168,000 events) took 26 to 30 s to project
from zero, the process at 100% of one core and the machine's second core idle. About half of that work is the
duplicate detector and the flags (alone 15 to 17 s; the other four alone 12 to 15 s; 2026-12-01, docs/BENCHMARKS.md).
So a projector that starts far behind (a new read-model database, a restore) hands those two to a helper process,
`frontdoor project --only duplicate_detector --only flags --until-caught-up`, projects the rest itself meanwhile,
and starts the two once the helper has brought them level with where the stream ended when it began: from their
checkpoints, as after any restart. The leases keep it to one applier per projection throughout; the helper holds
those two's until it exits, and the parent only starts them after that.

`frontdoor project --rebuild` does the same for the second set it builds (the helper given `--second-set`).
Live, or close to the end, nothing changes: a second process would read and decode every event a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.bootstrap import projection_runners
from frontdoor.projector import ProjectorProcess
from frontdoor.services import Services
from projections.checkpoints import load_checkpoint
from projections.runner import ProjectionRunner
from projections.shadow import open_shadow

log = logging.getLogger("frontdoor")
HELPED = ("duplicate_detector", "flags")


def spare_core() -> bool:
    return len(os.sched_getaffinity(0)) > 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) > 1


async def stream_ends(services: Services, runners: Mapping[str, ProjectionRunner]) -> dict[str, int]:
    """The last sequence of the stream each of `runners` reads, asked of the server once per stream (five of the
    six read the same one, and a rebuild asks five times a second)."""
    last: dict[str, int] = {}
    for runner in runners.values():
        if runner.stream not in last:
            last[runner.stream] = int((await services.js.stream_info(runner.stream)).state.last_seq)
    return {name: last[runner.stream] for name, runner in runners.items()}


async def behind(services: Services, runners: Mapping[str, ProjectionRunner], engine: AsyncEngine) -> int:
    """How far the least advanced of `runners` is behind its stream's end, by the checkpoints in `engine`."""
    ends = await stream_ends(services, runners)
    async with engine.connect() as conn:
        gaps = [ends[name] - await load_checkpoint(conn, name) for name in runners]
    return max(gaps, default=0)


async def start_runners(services: Services, runners: Mapping[str, ProjectionRunner], nats_url: str, *,
                        helpers: bool = True, second_set: AsyncEngine | None = None) -> list[asyncio.Task[None]]:
    """Starts every runner: at once, or, when the helped ones are far behind and there is a core to spare, those
    once a helper process has caught them up (see the module's note). `second_set`: the runners are a rebuild's,
    on that engine's read models, and so is the helper."""
    helped = {name: r for name, r in runners.items() if name in HELPED}
    settings = services.settings
    if not helpers or settings.catch_up_processes < 2 or not helped or not spare_core() or \
            await behind(services, helped, second_set or services.engine) < settings.catch_up_help_from:
        return [asyncio.create_task(r.run(), name=f"projection-{name}") for name, r in runners.items()]
    helper = ProjectorProcess(settings, nats_url,
                              arguments=[*(a for name in helped for a in ("--only", name)), "--until-caught-up",
                                         *(["--second-set"] if second_set is not None else [])])
    helper.start()
    log.info("%s catch up in a helper process (pid %s) while this one projects the rest", ", ".join(helped),
             helper.pid)
    ended = asyncio.create_task(helper.ended(), name="catch-up-helper")
    tasks = [asyncio.create_task(r.run(), name=f"projection-{name}") for name, r in runners.items()
             if name not in helped]
    tasks += [asyncio.create_task(_after(helper, ended, r), name=f"projection-{name}") for name, r in helped.items()]
    return tasks


async def _after(helper: ProjectorProcess, ended: asyncio.Task[int], runner: ProjectionRunner) -> None:
    """Runs `runner` once the helper has exited (caught up, or failed: then this process does the rest)."""
    try:
        code = await asyncio.shield(ended)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await helper.stop()  # stopped before the helper finished: it stops too, its leases given back
        ended.cancel()
        raise
    if code != 0:
        log.warning("the catch-up helper ended with code %d; %s catches up here", code, runner.name)
    await runner.run()


async def until_applied(services: Services, runners: Mapping[str, ProjectionRunner], stop: asyncio.Event) -> int:
    """`--until-caught-up`: runs `runners` until each has applied its stream's end as it was at the start, then
    stops them (giving their leases back); 0 then, 1 if one failed, 0 also when `stop` came first."""
    ends = await stream_ends(services, runners)
    tasks = [asyncio.create_task(r.run(), name=f"projection-{name}") for name, r in runners.items()]
    services.tasks.extend(tasks)
    while not stop.is_set():
        if any(task.done() for task in tasks):
            log.error("a projection ended before it caught up: %s",
                      "; ".join(f"{r.name}: {r.status.error}" for r in runners.values() if r.status.error))
            return 1
        if all(r.status.applied_seq >= ends[name] for name, r in runners.items()):
            log.info("caught up: %s", ", ".join(f"{name} at {ends[name]}" for name in runners))
            return 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
    return 0


async def help_rebuild(services: Services, only: list[str] | None, stop: asyncio.Event) -> int:
    """`--second-set --until-caught-up`: `until_applied` on the second set a `--rebuild` is building. Its status is
    not answered on `projection.status`: /health of the API would take it for the live projections'."""
    from frontdoor.rebuild import INSTANCE  # here: the rebuild starts this module's helpers

    shadow = await open_shadow(services.engine)
    runners = {name: r for name, r in projection_runners(services, engine=shadow.engine, instance=INSTANCE).items()
               if only is None or name in only}
    try:
        return await until_applied(services, runners, stop)
    finally:
        for task in services.tasks:
            task.cancel()
        if services.tasks:
            await asyncio.wait(services.tasks, timeout=10)
        services.tasks.clear()
        if shadow.sqlite_file is not None:  # an engine of its own; on PostgreSQL the live one's pool
            await shadow.engine.dispose()
