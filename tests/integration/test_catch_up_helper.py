"""A projector far behind hands the detector and the flags to a helper process (`frontdoor project --only ...
--until-caught-up`) and takes them back once it has caught them up (issue 15): the rows are those of the live
projections, row for row; nothing is emitted twice; no process is left behind, also when the projector is stopped
while its helper works."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest

from frontdoor.bootstrap import PROJECTION_NAMES, all_projections, nats_servers, projection_runners
from frontdoor.catch_up import HELPED, spare_core, start_runners
from frontdoor.demo_city.writer import write_city
from frontdoor.rebuild import Done, positions, rebuild_beside
from frontdoor.services import Services
from projections.runner import ProjectionRunner
from tests.integration.test_rebuild_beside import assert_same_rows, fresh_rebuild, processes_of
from tests.integration.test_rebuild_beside import caught_up as caught_up_beside
from tests.integration.test_rebuild_beside import dump as dump_beside
from tests.integration.test_rebuild_equality import caught_up, dump, tables_of, workload

pytestmark = pytest.mark.skipif(not spare_core(), reason="the helper needs a second core")


def helpers(services: Services) -> list[int]:
    """The living helper processes of this test's projector: theirs is the only environment naming its data
    directory (a killed parent's helper would no longer be our descendant)."""
    return processes_of(services.settings.resolved_data_dir())


async def stop_live(services: Services) -> None:
    for task in services.tasks:
        task.cancel()
    for task in services.tasks:
        with contextlib.suppress(BaseException):
            await task
    services.tasks.clear()


async def behind_from_zero(services: Services) -> dict[str, ProjectionRunner]:
    """The live projections stopped (their leases given back), their rows and checkpoints dropped, and a
    helper made worth its while from one event behind."""
    await stop_live(services)
    services.settings = services.settings.model_copy(update={"catch_up_help_from": 1})
    runners = projection_runners(services)
    for runner in runners.values():
        await runner.reset()
    return runners


async def test_a_helper_process_catches_up_the_detector_and_the_flags_to_the_rows_of_the_live_projections(
        client: httpx.AsyncClient, services: Services, caplog: pytest.LogCaptureFixture) -> None:
    await workload(client)
    await write_city(services, residents=40, seed=3, progress=False, today=date(2026, 11, 23))
    ends = await caught_up(services, services.runners)
    tables = tables_of(all_projections(services))
    live = await dump(services, tables)
    care = await services.store.count()
    runners = await behind_from_zero(services)

    with caplog.at_level(logging.INFO, "frontdoor"):
        services.tasks.extend(await start_runners(services, runners, ",".join(nats_servers(services.nc))))
        assert len(helpers(services)) == 1, "one helper process"
        assert "catch up in a helper process" in caplog.text
        # The helped runners wait here for the helper: they never lead side by side with it.
        assert all(not runners[name].leading for name in HELPED)
        assert await caught_up(services, runners) == ends
    assert helpers(services) == [], "the helper exited once it had caught up"
    assert all(runners[name].leading for name in HELPED), "this process took the two back"
    assert await dump(services, tables) == live
    assert await services.store.count() == care  # nothing emitted twice


async def test_a_projector_stopped_while_its_helper_works_stops_the_helper_too(
        client: httpx.AsyncClient, services: Services) -> None:
    await workload(client)
    await write_city(services, residents=40, seed=4, progress=False, today=date(2026, 11, 23))
    await caught_up(services, services.runners)
    runners = await behind_from_zero(services)
    tasks = await start_runners(services, runners, ",".join(nats_servers(services.nc)))
    assert len(helpers(services)) == 1
    await asyncio.sleep(0.5)  # the helper on its way
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=30)
    assert all(task.done() for task in tasks)
    assert helpers(services) == []


async def test_a_rebuild_beside_hands_the_detector_and_the_flags_of_its_second_set_to_a_helper(
        client: httpx.AsyncClient, services: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`--rebuild` far behind: the helper (`--second-set`) builds those two into the second set, the rebuild
    takes them back, switches the set in, and the rows are a fresh rebuild's; no process is left behind."""
    await workload(client)
    await write_city(services, residents=40, seed=5, progress=False, today=date(2026, 11, 23))
    await caught_up_beside(services)
    care = await services.store.count()
    services.settings = services.settings.model_copy(update={"catch_up_help_from": 1})
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(len(helpers(services)))
            await asyncio.sleep(0.05)

    reports: list[Done] = []
    watching = asyncio.create_task(watch())
    try:
        with caplog.at_level(logging.INFO, "frontdoor"):
            rebuilt = await rebuild_beside(services, progress=False, report=reports.append)
    finally:
        watching.cancel()
    assert "catch up in a helper process" in caplog.text and max(seen) == 1
    # The progress counts every projection's events, the helper's two included, and ends complete: it once
    # showed the least advanced projection, 0 throughout (an empty stream, or the two the helper builds).
    assert reports and [r.applied for r in reports] == sorted(r.applied for r in reports)
    assert reports[-1].applied == reports[-1].total >= 5 * care
    assert rebuilt.events >= care
    assert helpers(services) == []
    await caught_up_beside(services)
    assert_same_rows(await dump_beside(services.engine), await fresh_rebuild(services, tmp_path))
    assert await services.store.count() == care  # nothing emitted twice


async def test_a_rebuild_counts_what_a_helper_applied_by_the_checkpoints_it_wrote(
        client: httpx.AsyncClient, services: Services) -> None:
    """While a helper process builds two projections, their runners here have not started (applied 0): the
    rebuild's progress reads how far they are from the checkpoints the helper writes."""
    await workload(client)
    ends = await caught_up(services, services.runners)
    waiting = projection_runners(services)  # never started: as the helped ones are while the helper works
    assert all(r.status.applied_seq == 0 for r in waiting.values())
    found = await positions(waiting, services.engine)
    # Up to the end: a checkpoint may stay up to a second behind over events its projection passes over.
    assert all(0 < found[name] <= ends[r.stream] for name, r in waiting.items()), (found, ends)


async def test_the_names_project_only_accepts_are_the_projections_there_are(services: Services) -> None:
    """`PROJECTION_NAMES` is written out (the CLI checks --only before connecting to anything): it must stay the
    list `all_projections` makes."""
    assert tuple(p.name for p in all_projections(services)) == PROJECTION_NAMES


@pytest.mark.parametrize(("arguments", "said"), [
    (["--only", "resident_veiw"], "frontdoor: --only: no projection named resident_veiw (there are resident_view, "
                                  "caseload, flags, duplicate_detector, team_router, audit_log)"),
    (["--rebuild", "--only", "flags"], "frontdoor: --rebuild builds every read model and then goes live: it takes "
                                       "none of --only, --until-caught-up, --second-set"),
    (["--second-set", "--only", "flags"], "frontdoor: --second-set is a rebuild's helper: it needs --until-caught-up "
                                          "(the rebuild itself switches the set in)"),
])
def test_project_says_in_one_line_what_is_wrong_with_its_options(arguments: list[str], said: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env["FRONTDOOR_NATS_URL"] = "nats://127.0.0.1:1"  # never reached: the options are checked first
    done = subprocess.run([sys.executable, "-m", "frontdoor", "project", *arguments], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [said]
