"""Benchmark 3: a projection catching up from zero, against a raw batched pull of the same stream.

200,000 events (20,000 residents x 10: a registration, seven contacts, a referral made and accepted) are
written with `store.append`, one event per append, 200 in flight. (Atomic batches were the first plan, but the
server commits only about 300 of them a second on this machine, whatever their size: see store_append.)
Then, on the same stream:
- baseline: nats-py `js.pull_subscribe` + `fetch(batch=500, timeout=0.5)`, nothing done per message, measured
  before and after the runners (the mean is the baseline: other work on a 2-core machine moves both);
- for information: the same fetch plus `events.codec.decode` of every message (the runner must decode), and a
  pipelined raw pull (the consumer API with a callback and the next request sent early, as `PullFeed` does);
- `ProjectionRunner(..., batch=500)` with the resident view into SQLite and into PostgreSQL, and the caseload
  projection into SQLite and PostgreSQL, each from an empty database, until its applied sequence is the last.
`--profile` (in run_all) runs the resident view into SQLite once more under cProfile and prints the top costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import JetStream, Row, contact, envelope, info_row, jetstream, ratio_row, registration
from events.catalogue import ReferralAccepted, ReferralMade
from events.codec import decode
from events.envelope import Envelope
from events.ids import uuid7
from events.store import JetStreamEventStore
from events.subjects import CARE_STREAM, CARE_SUBJECTS
from frontdoor.heap import settle_heap
from projections.caseload_projection import CaseloadProjection
from projections.database import create_engine
from projections.projection import Projection
from projections.resident_view_projection import ResidentViewProjection
from projections.runner import ProjectionRunner
from projections.tables import metadata

NAME = "projection_catchup"
GOAL = 0.7
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BATCH = 500
IN_FLIGHT = 200
TIME_LIMIT_S = 600.0


@dataclass(frozen=True, slots=True)
class Size:
    residents: int
    events_each: int = 10


FULL = Size(residents=20_000)
QUICK = Size(residents=2_000)


def resident_events(n: int) -> tuple[str, list[Envelope]]:
    rid = uuid7()
    referral = uuid7()
    events = [registration(n), *(contact(i) for i in range(7)),
              ReferralMade(referral_id=referral, to_team="adult-social-care", need="housing", reason="bench"),
              ReferralAccepted(referral_id=referral, team="adult-social-care")]
    return rid, [envelope(rid, e) for e in events]


async def write_events(stream: JetStream, size: Size) -> tuple[int, float]:
    store = JetStreamEventStore(stream.nc, stream.js, timeout=30.0)
    numbers = iter(range(size.residents))

    async def worker() -> None:
        for n in numbers:
            rid, envelopes = resident_events(n)
            seq = 0
            for one in envelopes:
                seq = (await store.append(rid, [one], expected_seq=seq)).seq

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    elapsed = time.perf_counter() - began
    return await store.last_seq(), elapsed


async def raw_fetch(stream: JetStream, last: int, *, decoding: bool) -> float:
    durable = f"bench-raw-{uuid7()[-12:]}"
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
    began = time.perf_counter()
    sub = await stream.js.pull_subscribe(CARE_SUBJECTS, durable=durable, stream=CARE_STREAM, config=config)
    seen = 0
    try:
        while seen < last:
            if time.perf_counter() - began > TIME_LIMIT_S:
                raise TimeoutError(f"raw fetch saw {seen} of {last} in {TIME_LIMIT_S}s")
            try:
                msgs = await sub.fetch(batch=BATCH, timeout=0.5)
            except (NatsTimeout, TimeoutError):
                continue
            if decoding:
                for msg in msgs:
                    decode(msg.metadata.sequence.stream, msg.data)
            seen += len(msgs)
        return seen / (time.perf_counter() - began)
    finally:
        await sub.unsubscribe()
        await stream.js.delete_consumer(CARE_STREAM, durable)


async def raw_pipelined(stream: JetStream, last: int) -> float:
    """The consumer API without nats-py's fetch: a callback counts, the next pull goes out half-way through."""
    durable = f"bench-pipe-{uuid7()[-12:]}"
    config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
    began = time.perf_counter()
    await stream.js.add_consumer(CARE_STREAM, config)
    inbox = stream.nc.new_inbox()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen = 0
    request = orjson.dumps({"batch": BATCH, "expires": 5_000_000_000})
    subject = f"$JS.API.CONSUMER.MSG.NEXT.{CARE_STREAM}.{durable}"

    async def on_message(msg: Msg) -> None:
        nonlocal seen
        if not msg.data and msg.headers and msg.headers.get("Status"):
            return
        seen += 1
        if seen % BATCH == BATCH // 2:
            await stream.nc.publish(subject, request, reply=inbox)
        if seen >= last and not done.done():
            done.set_result(None)

    sub = await stream.nc.subscribe(inbox, cb=on_message)
    try:
        await stream.nc.publish(subject, request, reply=inbox)
        await stream.nc.publish(subject, request, reply=inbox)
        await asyncio.wait_for(done, TIME_LIMIT_S)
        return seen / (time.perf_counter() - began)
    finally:
        await sub.unsubscribe()
        await stream.js.delete_consumer(CARE_STREAM, durable)


@asynccontextmanager
async def sqlite_engine(workdir: Path, label: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{workdir / f'{label}-{uuid7()}.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    """The project's engine in a schema of its own, dropped afterwards (tests share the `test` database)."""
    schema = f"bench_{uuid7().replace('-', '')[-16:]}"
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(PG_URL)

        @event.listens_for(engine.sync_engine, "connect")
        def _search_path(dbapi_connection: Any, _record: Any) -> None:
            # Outside any transaction, so the setting lasts for the whole session.
            dbapi_connection.run_async(lambda raw: raw.execute(f'SET search_path TO "{schema}"'))

        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            yield engine
        finally:
            await engine.dispose()
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


async def catch_up(stream: JetStream, engine: AsyncEngine, projection: Projection, last: int,
                   window: int = 2_000) -> float:
    runner = ProjectionRunner(stream.nc, stream.js, engine, projection, batch=BATCH, window=window)
    began = time.perf_counter()
    task = asyncio.create_task(runner.run())
    try:
        while runner.status.applied_seq < last:
            if task.done():
                task.result()
                raise RuntimeError(f"runner {runner.name} ended at {runner.status.applied_seq} of {last}")
            if time.perf_counter() - began > TIME_LIMIT_S:
                raise TimeoutError(f"runner {runner.name} reached {runner.status.applied_seq} of {last}")
            await asyncio.sleep(0.005)
        return last / (time.perf_counter() - began)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def profiled_catch_up(stream: JetStream, workdir: Path, last: int) -> str:
    profile = cProfile.Profile()
    async with sqlite_engine(workdir, "profile") as engine:
        profile.enable()
        try:
            await catch_up(stream, engine, ResidentViewProjection(), last)
        finally:
            profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(35)
    return out.getvalue()


async def run(quick: bool = False, profile: bool = False) -> list[Row]:
    size = QUICK if quick else FULL
    rows: list[Row] = []
    async with jetstream(NAME) as stream:
        last, write_s = await write_events(stream, size)
        print(f"[{NAME}] wrote {last} events in {write_s:.1f}s ({last / write_s:.0f}/s, one event per append, "
              f"{IN_FLIGHT} in flight)")
        await raw_fetch(stream, min(last, 20_000), decoding=False)  # warm-up: server caches, code paths
        settle_heap()  # the runners below run in this process: with the heap as `frontdoor project` settles its own
        raw = await raw_fetch(stream, last, decoding=False)
        raw_decoded = await raw_fetch(stream, last, decoding=True)
        pipelined = await raw_pipelined(stream, last)
        print(f"[{NAME}] raw fetch {raw:.0f}/s, with decode {raw_decoded:.0f}/s, pipelined raw pull {pipelined:.0f}/s")
        rows.append(info_row(NAME, "raw fetch + decode (for information)", raw_decoded, "events/s", raw))
        rows.append(info_row(NAME, "pipelined raw pull (for information)", pipelined, "events/s", raw))
        targets: list[tuple[str, Projection, str]] = [
            # One pull per transaction (the window before issue 15 item 3), for comparison in the same run.
            ("resident view -> SQLite, window 500 (for information)", ResidentViewProjection(), "sqlite-500"),
            ("resident view -> SQLite", ResidentViewProjection(), "sqlite"),
            ("resident view -> PostgreSQL", ResidentViewProjection(), "postgres"),
            ("caseload -> SQLite", CaseloadProjection(), "sqlite"),
            ("caseload -> PostgreSQL", CaseloadProjection(), "postgres"),
        ]
        rates: list[tuple[str, float]] = []
        for label, projection, database in targets:
            try:
                if database.startswith("sqlite"):
                    async with sqlite_engine(stream.workdir, f"{projection.name}-{database}") as engine:
                        rate = await catch_up(stream, engine, projection, last,
                                              window=BATCH if database == "sqlite-500" else 2_000)
                else:
                    async with postgres_engine() as engine:
                        rate = await catch_up(stream, engine, projection, last)
            except OSError as exc:  # PostgreSQL not there: say so, go on
                print(f"[{NAME}] {label}: skipped ({exc})")
                continue
            print(f"[{NAME}] {label}: {rate:.0f} events/s ({rate / raw:.2f}x raw)")
            rates.append((label, rate))
        # The baseline again after the runners: with other work on the machine, the mean of before and after.
        raw_after = await raw_fetch(stream, last, decoding=False)
        baseline = (raw + raw_after) / 2
        print(f"[{NAME}] raw fetch after the runners {raw_after:.0f}/s; baseline (mean) {baseline:.0f}/s")
        for label, rate in rates:
            if "for information" in label:
                rows.append(info_row(NAME, f"catch-up {label}", rate, "events/s", baseline))
            else:
                rows.append(ratio_row(NAME, f"catch-up {label}", rate, baseline, "events/s", GOAL))
        if profile:
            print(await profiled_catch_up(stream, stream.workdir, last))
    return rows


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))
