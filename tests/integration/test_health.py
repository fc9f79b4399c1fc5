"""/health tells the truth under load and while the database is locked (issue 9 item 11)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import httpx
import pytest

from frontdoor.services import Services
from tests.integration.conftest import CONTACT, RESIDENT


async def test_behind_is_never_below_zero_while_events_keep_arriving(services: Services,
                                                                     client: httpx.AsyncClient) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    stop = asyncio.Event()

    async def keep_writing() -> None:
        while not stop.is_set():
            await asyncio.gather(*(client.post(f"/residents/{rid}/contacts", json=CONTACT) for _ in range(4)))

    writer = asyncio.create_task(keep_writing())
    seen: list[int] = []
    try:
        for _ in range(100):
            report = (await client.get("/health")).json()
            seen += [p["behind"] for p in report["projections"].values() if p["behind"] is not None]
    finally:
        stop.set()
        await writer
    assert seen and min(seen) >= 0, sorted(seen)[:10]
    assert max(seen) > 0  # it was measured under load: some projection was behind at some point


async def test_health_is_not_ok_while_another_process_holds_the_sqlite_write_lock(
        services: Services, client: httpx.AsyncClient) -> None:
    if services.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite file lock")
    assert (await client.get("/health")).json()["status"] == "ok"
    other = sqlite3.connect(str(services.engine.url.database), timeout=10, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # as `sqlite3 frontdoor.db` with a write open would
        locked = await client.get("/health")
        assert locked.status_code == 503, locked.text
        report = locked.json()
        assert report["status"] == "unavailable" and report["database"]["ok"] is False
        assert "locked" in report["database"]["error"], report["database"]
    finally:
        with contextlib.suppress(sqlite3.Error):
            other.execute("ROLLBACK")
        other.close()
    again = await client.get("/health")
    assert again.status_code == 200 and again.json()["status"] == "ok", again.text
