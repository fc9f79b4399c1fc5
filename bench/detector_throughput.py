"""Issue 5: the duplicate-work detector catching up, against the resident-view projection on the same stream.

A city written with `frontdoor demo-city` (20,000 residents; 2,000 with --quick) to our own nats-server. Then,
in this process, the runners the composition root builds (`bootstrap.projection_runners(services)`, SQLite
read models in a temporary data dir), one at a time:
1. the detector from zero on the fresh city: it raises its flags into the stream as it goes (for information);
2. with the stream now still, twice and alternating: `runner.reset()` then a timed catch-up from zero of the
   resident view, then of the detector (which, rebuilding, emits nothing: it remembers what it already
   handled). The median of each side is reported, the resident view as the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench.city_reads import cli_env, write_city
from bench.common import Row, info_row, median, ratio_row, temp_dir
from frontdoor.bootstrap import projection_runners, start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.settings import Settings
from projections.runner import ProjectionRunner

NAME = "detector_throughput"
SEED = 20261124
FULL = 20_000
QUICK = 2_000
ROUNDS = 2
TIME_LIMIT_S = 1800.0


async def catch_up(runner: ProjectionRunner, last: int) -> float:
    """Seconds for `runner` (from its checkpoint) to apply everything up to `last`; stopped afterwards."""
    began = time.perf_counter()
    task = asyncio.create_task(runner.run(), name=f"bench-{runner.name}")
    try:
        while runner.status.applied_seq < last:
            if task.done():
                task.result()
                raise RuntimeError(f"{runner.name} ended at {runner.status.applied_seq} of {last}")
            if time.perf_counter() - began > TIME_LIMIT_S:
                raise TimeoutError(f"{runner.name} reached {runner.status.applied_seq} of {last}")
            await asyncio.sleep(0.01)
        return time.perf_counter() - began
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run(quick: bool = False) -> list[Row]:
    residents = QUICK if quick else FULL
    with temp_dir(NAME) as workdir:
        server = EmbeddedNats(workdir / "nats").start()
        try:
            city = await write_city(cli_env(server.url, workdir / "data"), residents, SEED)
            settings = Settings(nats_url=server.url, data_dir=workdir / "data",
                                database_url=f"sqlite+aiosqlite:///{workdir / 'frontdoor.db'}")
            services = await start_services(settings, run_projections=False)
            try:
                runners = projection_runners(services)
                view, detector = runners["resident_view"], runners["duplicate_detector"]
                written = await services.store.last_seq()
                first_s = await catch_up(detector, written)
                while True:  # the flags it raised land after `written`: let it handle those too
                    last = await services.store.last_seq()
                    await catch_up(detector, last)
                    await asyncio.sleep(0.5)
                    if await services.store.last_seq() == last:
                        break
                flags = last - written
                print(f"[{NAME}] {city.events} events written; the detector's first pass took {first_s:.1f}s "
                      f"({written / first_s:.0f} events/s) and raised {flags} flags")
                view_s: list[float] = []
                detector_s: list[float] = []
                for _ in range(ROUNDS):
                    for runner, times in ((view, view_s), (detector, detector_s)):
                        await runner.reset()
                        times.append(await catch_up(runner, last))
                        print(f"[{NAME}] {runner.name} from zero: {times[-1]:.1f}s ({last / times[-1]:.0f} events/s)")
                after = await services.store.last_seq()
            finally:
                await stop_services(services)
        finally:
            server.stop()
    if after != last:
        print(f"[{NAME}] WARNING: the rebuilds appended {after - last} events (expected none)")
    view_rate, detector_rate = last / median(view_s), last / median(detector_s)
    return [
        # Issue 15: the detector at least 0.5x the resident view.
        ratio_row(NAME, f"detector catch-up from zero ({last:,} events) vs resident view", detector_rate, view_rate,
                  "events/s", 0.5),
        info_row(NAME, f"detector first pass, raising {flags} flags ({written:,} events), vs resident view",
                 written / first_s, "events/s", view_rate),
    ]


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))
