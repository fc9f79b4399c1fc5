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

import httpx
import psutil
import pytest

from frontdoor.bootstrap import all_projections, nats_servers, projection_runners
from frontdoor.catch_up import HELPED, spare_core, start_runners
from frontdoor.demo_city.writer import write_city
from frontdoor.services import Services
from projections.runner import ProjectionRunner
from tests.integration.test_rebuild_equality import caught_up, dump, tables_of, workload

pytestmark = pytest.mark.skipif(not spare_core(), reason="the helper needs a second core")


def helpers() -> list[psutil.Process]:
    """This process's `frontdoor project` children (the fixtures' nats-server is a child too)."""
    return [p for p in psutil.Process().children(recursive=True)
            if "project" in " ".join(_cmdline(p)) and p.status() != psutil.STATUS_ZOMBIE]


def _cmdline(process: psutil.Process) -> list[str]:
    with contextlib.suppress(psutil.Error):
        return process.cmdline()
    return []


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
        assert len(helpers()) == 1, "one helper process"
        assert "catch up in a helper process" in caplog.text
        # The helped runners wait here for the helper: they never lead side by side with it.
        assert all(not runners[name].leading for name in HELPED)
        assert await caught_up(services, runners) == ends
    assert helpers() == [], "the helper exited once it had caught up"
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
    assert len(helpers()) == 1
    await asyncio.sleep(0.5)  # the helper on its way
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=30)
    assert all(task.done() for task in tasks)
    assert helpers() == []


@pytest.mark.parametrize(("arguments", "said"), [
    (["--only", "resident_veiw"], "frontdoor: --only: no projection named resident_veiw (there are resident_view, "
                                  "caseload, flags, duplicate_detector, team_router, audit_log)"),
    (["--rebuild", "--only", "flags"], "frontdoor: --rebuild builds every read model and then goes live: it takes "
                                       "neither --only nor --until-caught-up"),
])
def test_project_says_in_one_line_what_is_wrong_with_its_options(arguments: list[str], said: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env["FRONTDOOR_NATS_URL"] = "nats://127.0.0.1:1"  # never reached: the options are checked first
    done = subprocess.run([sys.executable, "-m", "frontdoor", "project", *arguments], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [said]
