"""Infrastructure faults are not poison (issue 9 item 8): a database that refuses the projection's writes (a
revoked grant on PostgreSQL, a read-only database on SQLite) is waited out with backoff under both poison
policies: nothing is parked, nothing stops for good, `status` says whose problem it is, and once the fault is
removed every view is what the stream says."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from events.ids import uuid7
from events.store import JetStreamEventStore
from frontdoor.services import Services
from projections import resident_view
from projections.caseload_projection import CaseloadProjection
from projections.database import create_engine
from projections.queries import view_of
from projections.resident_view_projection import ResidentViewProjection
from projections.runner import ProjectionRunner
from projections.tables import dead_letters
from tests.integration.conftest import RESIDENT
from tests.integration.test_projection_runner import count, running, write_city

DEADLINE_S = 30.0


class Unwritable:
    """Makes the database refuse the runner's writes, for real: on PostgreSQL the runner connects as its own
    role and loses INSERT/UPDATE on the resident view's tables ("permission denied for table"); on SQLite every
    connection the runner takes is switched to query_only ("attempt to write a readonly database")."""

    def __init__(self, admin: AsyncEngine) -> None:
        self._admin = admin
        self._role = f"fd_limited_{uuid7().replace('-', '')[-12:]}"
        self.refusing = False
        self.engine: AsyncEngine

    async def __aenter__(self) -> Unwritable:
        url = self._admin.url.render_as_string(hide_password=False)
        if self._admin.dialect.name == "postgresql":
            async with self._admin.begin() as conn:
                await conn.execute(text(f"CREATE ROLE {self._role} LOGIN"))
                await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {self._role}"))
                await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                                        f"TO {self._role}"))
            self.engine = create_engine(make_url(url).set(username=self._role).render_as_string(False))
        else:
            self.engine = create_engine(url)

            @event.listens_for(self.engine.sync_engine, "checkout")
            def _read_only(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA query_only={1 if self.refusing else 0}")
                cursor.close()
        return self

    async def refuse(self, refusing: bool) -> None:
        self.refusing = refusing
        if self._admin.dialect.name == "postgresql":
            verb = "REVOKE INSERT, UPDATE ON residents, resident_views FROM" if refusing else \
                "GRANT INSERT, UPDATE ON residents, resident_views TO"
            async with self._admin.begin() as conn:
                await conn.execute(text(f"{verb} {self._role}"))

    async def __aexit__(self, *_exc: object) -> None:
        await self.engine.dispose()
        if self._admin.dialect.name == "postgresql":
            async with self._admin.begin() as conn:
                await conn.execute(text(f"DROP OWNED BY {self._role}"))
                await conn.execute(text(f"DROP ROLE {self._role}"))


async def until(condition: Any, what: str, within: float = DEADLINE_S) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def all_running(*runners: ProjectionRunner) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for runner in runners:
            await stack.enter_async_context(running(runner))
        yield


@pytest.mark.parametrize("policy", ["stop", "park"])
async def test_a_database_that_refuses_writes_is_waited_out_never_parked(nc: NATS, js: JetStreamContext,
                                                                         engine: AsyncEngine, policy: str) -> None:
    store = JetStreamEventStore(nc, js)
    ids = await write_city(store, 20, 3)
    async with Unwritable(engine) as fault:
        await fault.refuse(True)
        view = ProjectionRunner(nc, js, fault.engine, ResidentViewProjection(), batch=7, poison=policy)
        caseload = ProjectionRunner(nc, js, fault.engine, CaseloadProjection(), batch=7, poison=policy)
        async with all_running(view, caseload):
            await until(lambda: view.status.state == "waiting_for_database", "the view waits for its database")
            error = view.status.error or ""
            assert "permission denied" in error or "readonly" in error, error
            ids += await write_city(store, 5, 1)  # and live events arrive meanwhile
            await until(lambda: view._retry_in >= 0.8, "several retries, each later than the one before")
            assert view.status.state == "waiting_for_database" and view.status.parked == 0
            assert view.status.applied_seq == 0  # nothing skipped past: the first event is still to apply
            await fault.refuse(False)
            last = await store.last_seq()
            assert await view.wait_for(last, DEADLINE_S) and await caseload.wait_for(last, DEADLINE_S)
            assert view.status.state == "live" and view.status.error is None
        assert view.status.parked == caseload.status.parked == 0
    assert await count(engine, dead_letters) == 0
    async with engine.connect() as conn:
        for rid in ids:
            expected = resident_view.fold_view(rid, await store.read_resident(rid)).document()
            assert await view_of(conn, rid) == expected, rid
        stored = dict((await conn.execute(text("SELECT projection, seq FROM projection_checkpoints"))).all())
    assert stored.get("resident_view") == last


async def test_a_projection_that_cannot_reach_its_database_at_start_waits_for_it(
        nc: NATS, js: JetStreamContext, engine: AsyncEngine) -> None:
    """Not even the checkpoint can be read (nothing listens where the database should be): the runner waits,
    it does not end."""
    store = JetStreamEventStore(nc, js)
    await write_city(store, 2, 1)
    nowhere = create_engine(
        "postgresql+asyncpg://postgres@127.0.0.1:1/none" if engine.dialect.name == "postgresql"
        else "sqlite+aiosqlite:////nonexistent-dir/read.db")
    runner = ProjectionRunner(nc, js, nowhere, ResidentViewProjection(), batch=7)
    try:
        async with running(runner) as task:
            await until(lambda: runner.status.state == "waiting_for_database", "waiting for the database")
            await until(lambda: runner._retry_in >= 0.4, "retried")
            assert not task.done()
    finally:
        await nowhere.dispose()
    async with engine.connect() as conn:
        assert await conn.scalar(select(dead_letters.c.seq)) is None


async def test_health_says_whose_problem_it_is_while_the_database_refuses_writes(
        services: Services, client: httpx.AsyncClient) -> None:
    refusing = True

    if services.engine.dialect.name == "postgresql":
        @event.listens_for(services.engine.sync_engine, "begin")
        def _read_only_transaction(conn: Any) -> None:
            if refusing:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    else:
        @event.listens_for(services.engine.sync_engine, "checkout")
        def _read_only(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA query_only={1 if refusing else 0}")
            cursor.close()

    created = await client.post("/residents", json=RESIDENT)
    assert created.status_code == 201, created.text
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        report = (await client.get("/health")).json()
        if report["projections"]["resident_view"].get("state") == "waiting_for_database":
            break
        assert asyncio.get_running_loop().time() < deadline, report
        await asyncio.sleep(0.05)
    assert report["status"] != "ok" and "database unavailable" in report["projections"]["resident_view"]["error"]
    refusing = False
    rid = created.json()["resident_id"]
    read = await client.get(f"/residents/{rid}", params={"min_seq": created.json()["seq"]})
    assert read.status_code == 200, read.text
    while (report := (await client.get("/health")).json())["status"] != "ok":
        assert asyncio.get_running_loop().time() < deadline, report
        await asyncio.sleep(0.05)
    assert all(p.get("parked", 0) == 0 for p in report["projections"].values())
