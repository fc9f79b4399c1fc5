"""A demo city in the stream with the detector's flags in it, and what an analyst export must never contain."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import text

from events.envelope import Actor
from events.subjects import CARE_STREAM
from frontdoor.demo_city.writer import write_city
from frontdoor.domain import commands as c
from frontdoor.handling import Context
from frontdoor.services import Services
from projections.analyst.schema import TABLES
from projections.database import create_engine

TODAY = date(2026, 11, 23)
ADMIN = Actor(id="analyst-test-admin", role="admin")
CARE_PROJECTIONS = ("resident_view", "duplicate_detector", "flags", "caseload")


async def caught_up(services: Services, within: float = 180.0) -> int:
    """Waits until every projection of CARE has applied the last event and the detector has nothing more to
    append (the last sequence stays put while they are all there)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        last = await services.store.last_seq()
        if all(services.runners[name].status.applied_seq >= last for name in CARE_PROJECTIONS):
            await asyncio.sleep(0.3)  # the detector may be appending a flag it just found
            if await services.store.last_seq() == last:
                return last
        if loop.time() > deadline:
            status = {n: services.runners[n].status.applied_seq for n in CARE_PROJECTIONS}
            raise AssertionError(f"projections did not catch up with {last} in {within:g}s: {status}")
        await asyncio.sleep(0.1)


async def city(services: Services, *, residents: int, seed: int) -> int:
    await write_city(services, residents=residents, seed=seed, progress=False, today=TODAY)
    last = await caught_up(services)
    # A resolution with a note, so that the export's leaving out of notes is checked too.
    async with services.engine.connect() as conn:
        row = (await conn.execute(text("SELECT flag_id, resident_id FROM flags WHERE status = 'open' LIMIT 1"))).one()
    await services.handler.handle(row.resident_id, c.ResolveFlag(
        at=datetime.now().astimezone(), flag_id=row.flag_id, resolution="merged_work", by="coordinator-ann",
        note="Spoke to Mrs Example's daughter; merged."), Context(actor=ADMIN, correlation_id="analyst-test"))
    return last + 1 if await services.store.last_seq() > last else last


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


async def identifiers(services: Services) -> tuple[set[str], set[date]]:
    """Everything in the source that identifies someone or is free text: every string of every event's data
    except the closed vocabularies and team ids, plus every id in the envelopes."""
    vocabulary = {t.id for t in services.teams.teams} | {cl.id for cl in services.teams.clusters}
    needles: set[str] = set()
    births: set[date] = set()
    async for recorded in services.store.read_all():
        env = recorded.envelope
        needles |= {env.event_id, env.resident_id, env.correlation_id, env.actor.id}
        if env.causation_id:
            needles.add(env.causation_id)
        data = env.data
        for key, value in data.items():
            if key in ("channel", "urgency", "outcome", "need", "needs", "kind", "rule", "severity", "decision",
                       "resolution", "team", "to_team", "from_team", "team_id", "cluster", "safeguarding"):
                if key == "outcome" and env.type != "ContactRecorded":
                    needles |= set(_texts(value))  # completion and assessment outcomes are free text
                continue
            if key == "caller":
                needles |= {value.get("name") or "", value.get("organisation") or ""}
                continue
            if key == "date_of_birth" and value:
                births.add(date.fromisoformat(value))
                needles.add(value)
            if key == "postcode" and value:
                needles |= {value, value.replace(" ", "")}
            if key == "scope":
                continue
            needles |= set(_texts(value))
    needles -= vocabulary | {"", "all_partners"}
    return needles, births


def parquet_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: pq.read_table(folder / f"{name}.parquet").to_pylist() for name in TABLES}


async def sql_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {name: [dict(r._mapping) for r in await conn.execute(text(f"SELECT * FROM {name}"))]
                    for name in TABLES}
    finally:
        await engine.dispose()


def leaks(tables: dict[str, list[dict[str, Any]]], needles: set[str], births: set[date]) -> list[str]:
    """Every cell of every table against every needle: equal to it, or holding it when it is long enough
    that holding it cannot be chance (a short name like "Al" is inside ordinary words)."""
    long = [n for n in needles if len(n) >= 6]
    found = []
    for name, rows in tables.items():
        for row in rows:
            for column, cell in row.items():
                if isinstance(cell, str):
                    if cell in needles or any(n in cell for n in long):
                        found.append(f"{name}.{column} = {cell!r}")
                elif isinstance(cell, datetime | date):
                    day = cell.date() if isinstance(cell, datetime) else cell
                    if day in births:
                        found.append(f"{name}.{column} = {cell!r} (a birth date)")
    return found


async def stream_count(services: Services) -> int:
    return int((await services.js.stream_info(CARE_STREAM)).state.messages)
