"""A rebuild without downtime (issue 15): the read models are built again beside the live ones while reads and
writes go on; no read fails, no view goes backwards, and after the switch the read models equal a fresh
rebuild's, row for row. Killed half-way, the live read models are untouched and serving; run again, it finishes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdoor.bootstrap import projection_runners
from frontdoor.demo_city.writer import write_city
from frontdoor.rebuild import rebuild_beside
from frontdoor.services import Services
from projections.database import create_engine
from projections.shadow import open_shadow
from projections.tables import metadata
from tests.conftest import database_url
from tests.integration.conftest import CONTACT, SECRET

DEADLINE_S = 120.0
TODAY = date(2026, 11, 23)


async def caught_up(services: Services) -> None:
    """Until every projection's checkpoint row (what the tables say, not a runner's memory: after a switch a live
    runner finds its checkpoint moved only at its next batch, and applies again from there) is at its stream's end."""
    from projections.tables import checkpoints

    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:  # until one whole pass finds every projection at an end that did not move meanwhile (the
        # detector appends its flags after the events that cause them, so the stream can grow under the check)
        ends = {r.name: int((await services.js.stream_info(r.stream)).state.last_seq)
                for r in services.runners.values()}
        async with services.engine.connect() as conn:
            stored = dict((await conn.execute(select(checkpoints.c.projection, checkpoints.c.seq))).all())
        done = all(r.status.applied_seq >= ends[r.name] and stored.get(r.name, 0) >= ends[r.name]
                   for r in services.runners.values())
        again = {r.name: int((await services.js.stream_info(r.stream)).state.last_seq)
                 for r in services.runners.values()}
        if done and again == ends:
            return
        assert asyncio.get_running_loop().time() < deadline, "the projections did not catch up"
        await asyncio.sleep(0.1)


async def dump(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return {t.name: sorted((tuple(row) for row in await conn.execute(select(t))), key=repr)
                for t in metadata.sorted_tables if t.name not in ("projection_dead_letters", "projection_checkpoints")}


def assert_same_rows(live: dict[str, list[tuple[Any, ...]]], fresh: dict[str, list[tuple[Any, ...]]]) -> None:
    """Row for row; on a difference, says which table and shows the first rows only one side has."""
    for table in sorted(set(live) | set(fresh)):
        ours, theirs = set(live.get(table, [])), set(fresh.get(table, []))
        only_live = sorted(ours - theirs, key=repr)[:3]
        only_fresh = sorted(theirs - ours, key=repr)[:3]
        assert not only_live and not only_fresh, (
            f"{table}: {len(ours - theirs)} rows only in the live set, {len(theirs - ours)} only in a fresh "
            f"rebuild; live: {[repr(r)[:600] for r in only_live]}; fresh: {[repr(r)[:600] for r in only_fresh]}")
        assert live.get(table) == fresh.get(table), f"{table}: the same rows, not the same number of each"


async def fresh_rebuild(services: Services, tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection from the start of the stream into an empty database of the same kind (a file of its own
    on SQLite, a schema of its own on PostgreSQL: rows of two kinds of database do not compare), to compare with."""
    from sqlalchemy import text

    postgres = services.engine.dialect.name == "postgresql"
    if postgres:
        async with services.engine.begin() as conn:
            await conn.execute(text('DROP SCHEMA IF EXISTS "frontdoor_fresh" CASCADE'))
            await conn.execute(text('CREATE SCHEMA "frontdoor_fresh"'))
        engine = services.engine.execution_options(schema_translate_map={None: "frontdoor_fresh"})
    else:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with services.engine.connect() as conn, engine.begin() as fresh:
        from projections.tables import checkpoints

        for name, seq in await conn.execute(select(checkpoints.c.projection, checkpoints.c.seq)):
            if "." in name:  # what was emitted stays emitted, as in any rebuild
                await fresh.execute(checkpoints.insert().values(projection=name, seq=seq))
    runners = projection_runners(services, engine=engine, instance="fresh")
    tasks = [asyncio.create_task(r.run()) for r in runners.values()]
    try:
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        for runner in runners.values():
            while runner.status.applied_seq < int((await services.js.stream_info(runner.stream)).state.last_seq):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=10)
        for runner in runners.values():
            await runner.retire()
    rows = await dump(engine)
    if postgres:
        async with services.engine.begin() as conn:
            await conn.execute(text('DROP SCHEMA "frontdoor_fresh" CASCADE'))
    else:
        await engine.dispose()
    return rows


async def test_a_rebuild_beside_the_live_read_models_under_reads_and_writes(
        client: httpx.AsyncClient, services: Services, tmp_path: Path) -> None:
    city = await write_city(services, residents=2500, seed=151, progress=False, today=TODAY)
    assert city.events >= 20_000
    await caught_up(services)
    async with services.engine.connect() as conn:
        from projections.tables import resident_views

        sample = [rid for (rid,) in await conn.execute(select(resident_views.c.resident_id).limit(40))]
    versions: dict[str, int] = {}
    failures: list[str] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            for rid in sample:
                answer = await client.get(f"/residents/{rid}")
                if answer.status_code != 200:
                    failures.append(f"{rid}: {answer.status_code} {answer.text[:200]}")
                    continue
                version = answer.json()["version"]
                if version < versions.get(rid, 0):
                    failures.append(f"{rid} went back from {versions[rid]} to {version}")
                versions[rid] = version
                await asyncio.sleep(0.01)  # a steady stream of reads, leaving the loop room for the rebuild

    async def writer() -> None:
        n = 0
        while not done.is_set():
            answer = await client.post(f"/residents/{sample[n % len(sample)]}/contacts",
                                       json=CONTACT | {"summary": f"during the rebuild {n}"})
            if answer.status_code != 201:
                failures.append(f"write: {answer.status_code} {answer.text[:200]}")
            n += 1
            await asyncio.sleep(0.05)

    load = [asyncio.create_task(reader()), asyncio.create_task(writer())]
    try:
        rebuilt = await rebuild_beside(services, progress=False)
    finally:
        done.set()
        await asyncio.gather(*load)
    assert rebuilt.events >= city.events
    assert failures == []
    await caught_up(services)
    assert_same_rows(await dump(services.engine), await fresh_rebuild(services, tmp_path))
    assert not (await open_shadow_exists(services))


async def open_shadow_exists(services: Services) -> bool:
    """Whether a second set is left behind (it must be dropped after the switch)."""
    database = services.engine.url.database
    if services.engine.dialect.name == "sqlite":
        return await asyncio.to_thread(Path(f"{database}.rebuild").exists)
    from sqlalchemy import text

    async with services.engine.connect() as conn:
        return bool(await conn.scalar(text(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'frontdoor_rebuild'")))


def processes_of(data_dir: Path) -> list[int]:
    """Living processes started with FRONTDOOR_DATA_DIR=`data_dir` (a killed rebuild's helper is no longer our
    descendant: its parent is gone)."""
    wanted = f"FRONTDOOR_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0") and \
                        (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("helped", [False, True], ids=["one process", "with a helper process"])
async def test_a_rebuild_killed_half_way_leaves_the_live_read_models_serving_and_run_again_finishes(
        client: httpx.AsyncClient, services: Services, tmp_path: Path, helped: bool) -> None:
    await write_city(services, residents=900, seed=152, progress=False, today=TODAY)
    await caught_up(services)
    before = await dump(services.engine)
    url = database_url(tmp_path)
    env = os.environ | {"FRONTDOOR_NATS_URL": services.settings.nats_url or "", "FRONTDOOR_DATABASE_URL": url,
                        "FRONTDOOR_DATA_DIR": str(tmp_path / "rebuilder"), "FRONTDOOR_JWT_SECRET": SECRET}
    if helped:  # the detector and the flags of the second set in a helper process, killed with its parent
        env["FRONTDOOR_CATCH_UP_HELP_FROM"] = "1"
        services.settings = services.settings.model_copy(update={"catch_up_help_from": 1})
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "frontdoor", "project", "--rebuild",
                                                   env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        shadow = await open_shadow(services.engine)  # the same second set the child writes into
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while True:  # kill it once it is part-way
            async with shadow.engine.connect() as conn:
                from projections.tables import checkpoints

                seq = await conn.scalar(select(checkpoints.c.seq).where(checkpoints.c.projection == "resident_view"))
            if seq and seq > 2000 and (not helped or len(processes_of(tmp_path / "rebuilder")) == 2):
                break
            assert process.returncode is None, "the rebuild ended before it was killed"
            assert asyncio.get_running_loop().time() < deadline, "the rebuild never got going"
            await asyncio.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
        await shadow.engine.dispose()
        for _ in range(200):  # its helper is told by the kernel (PR_SET_PDEATHSIG) and stops
            if not processes_of(tmp_path / "rebuilder"):
                break
            await asyncio.sleep(0.1)
        assert processes_of(tmp_path / "rebuilder") == [], "a process of the killed rebuild is left behind"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert await dump(services.engine) == before  # untouched
    assert (await client.get(f"/residents/{before['resident_views'][0][0]}")).status_code == 200

    rebuilt = await rebuild_beside(services, progress=False)  # again: it goes on from the second set
    assert rebuilt.events > 0
    await caught_up(services)
    assert_same_rows(await dump(services.engine), await fresh_rebuild(services, tmp_path))


async def test_a_rebuild_by_another_process_switches_in_while_this_one_projects_reads_and_writes(
        client: httpx.AsyncClient, services: Services, tmp_path: Path) -> None:
    """`frontdoor project --rebuild` in a process of its own, while this process's projections follow the stream
    and contacts are written and read (two processes, as in a deployment: the live projector and the operator's
    rebuild). It switches in; no read fails or goes back; afterwards the read models equal a fresh rebuild's.
    (What the switch's hold does is tested on its own in test_shadow_switch.py.)"""
    await write_city(services, residents=600, seed=153, progress=False, today=TODAY)
    await caught_up(services)
    async with services.engine.connect() as conn:
        from projections.tables import resident_views

        sample = [rid for (rid,) in await conn.execute(select(resident_views.c.resident_id).limit(20))]
    env = os.environ | {"FRONTDOOR_NATS_URL": services.settings.nats_url or "",
                        "FRONTDOOR_DATABASE_URL": database_url(tmp_path),
                        "FRONTDOOR_DATA_DIR": str(tmp_path / "rebuilder"), "FRONTDOOR_JWT_SECRET": SECRET}
    versions: dict[str, int] = {}
    failures: list[str] = []
    done = asyncio.Event()

    async def reads_and_writes() -> None:
        n = 0
        while not done.is_set():
            rid = sample[n % len(sample)]
            written = await client.post(f"/residents/{rid}/contacts", json=CONTACT | {"summary": f"beside {n}"})
            if written.status_code != 201:
                failures.append(f"write: {written.status_code} {written.text[:200]}")
            answer = await client.get(f"/residents/{rid}")
            if answer.status_code != 200:
                failures.append(f"{rid}: {answer.status_code} {answer.text[:200]}")
            elif answer.json()["version"] < versions.get(rid, 0):
                failures.append(f"{rid} went back from {versions[rid]} to {answer.json()['version']}")
            else:
                versions[rid] = answer.json()["version"]
            n += 1
            await asyncio.sleep(0.02)

    load = asyncio.create_task(reads_and_writes())
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "frontdoor", "project", "--rebuild",
                                                   env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        seen = False
        while not (seen and not await open_shadow_exists(services)):  # made, then switched in and dropped
            seen = seen or await open_shadow_exists(services)
            assert process.returncode is None, "the rebuild ended before it switched"
            assert asyncio.get_running_loop().time() < deadline, "the rebuild did not switch in time"
            await asyncio.sleep(0.1)
    finally:
        done.set()
        await load
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # it goes live after the switch: stop it as an operator would
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
    assert not failures, failures[:5]
    assert len(versions) == len(sample)
    await caught_up(services)
    assert_same_rows(await dump(services.engine), await fresh_rebuild(services, tmp_path))
