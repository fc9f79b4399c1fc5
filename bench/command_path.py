"""Benchmark 2: the command path (`CommandHandler.handle`: load or cached state, decide, append with the
expected sequence) against the `eventsourcing` library on SQLite doing load-aggregate-then-append per command.

Each resident gets RegisterResident then `contacts` RecordContact commands, in order. Sequential: one command
at a time. Concurrent: `concurrency` residents at once (asyncio for frontdoor; a thread pool for the
synchronous library, which is how it is meant to serve concurrent requests). Latency is per command.
The baseline is the library's defaults (SQLite synchronous=FULL, no aggregate cache); the same library with
synchronous=NORMAL (no fsync per commit, like JetStream's default of syncing every two minutes) and with its
aggregate cache are reported beside it for information.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bench.common import ACTOR, CALLER, JetStream, Row, info_row, jetstream, percentile, ratio_row, temp_dir
from bench.es_baseline import EsResidents, open_app
from events.ids import uuid7
from events.store import JetStreamEventStore
from frontdoor.domain.commands import AcceptReferral, Command, RecordContact, RegisterResident
from frontdoor.domain.errors import DomainError
from frontdoor.handling import CommandHandler, Context
from frontdoor.resident_states import ResidentStates

NAME = "command_path"
GOAL = 5.0


@dataclass(frozen=True, slots=True)
class Size:
    sequential_residents: int
    concurrent_residents: int
    contacts: int  # per resident, after its registration
    concurrency: int  # residents in flight (asyncio tasks / threads)
    threads: int


FULL = Size(sequential_residents=200, concurrent_residents=1000, contacts=9, concurrency=100, threads=8)
QUICK = Size(sequential_residents=30, concurrent_residents=100, contacts=4, concurrency=50, threads=8)


@dataclass(frozen=True, slots=True)
class Pass:
    rate: float  # commands per second
    p50_ms: float
    p99_ms: float


def summarise(latencies: list[float], elapsed: float) -> Pass:
    ms = [x * 1000 for x in latencies]
    return Pass(len(latencies) / elapsed, percentile(ms, 50), percentile(ms, 99))


def register_command(n: int) -> RegisterResident:
    return RegisterResident(at=datetime.now(UTC), given_name=f"Given{n}", family_name="Bench",
                            date_of_birth=date(1940, 1, 1), postcode="SO14 7LY")


def contact_command(n: int) -> RecordContact:
    return RecordContact(at=datetime.now(UTC), contact_id=uuid7(), channel="phone", caller=CALLER, needs=["housing"],
                         urgency="routine", safeguarding=False, summary=f"bench {n}", outcome="advice")


# --- frontdoor ------------------------------------------------------------------------------------------------


async def frontdoor_resident(handler: CommandHandler, n: int, contacts: int, latencies: list[float]) -> None:
    resident_id = uuid7()
    for i in range(contacts + 1):
        command = register_command(n) if i == 0 else contact_command(i)
        began = time.perf_counter()
        await handler.handle(resident_id, command, Context(actor=ACTOR, correlation_id=uuid7()))
        latencies.append(time.perf_counter() - began)


async def frontdoor_pass(handler: CommandHandler, residents: int, contacts: int, concurrency: int) -> Pass:
    latencies: list[float] = []
    numbers = iter(range(residents))

    async def worker() -> None:
        for n in numbers:
            await frontdoor_resident(handler, n, contacts, latencies)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarise(latencies, time.perf_counter() - began)


# --- eventsourcing --------------------------------------------------------------------------------------------


def es_resident(app: EsResidents, n: int, contacts: int, latencies: list[float]) -> None:
    began = time.perf_counter()
    resident_id = app.register(f"Given{n}", "Bench", "1940-01-01", "SO14 7LY")
    latencies.append(time.perf_counter() - began)
    for i in range(contacts):
        began = time.perf_counter()
        app.record_contact(resident_id, contact_id=uuid7(), channel="phone", caller={"relationship": "self"},
                           needs=["housing"], urgency="routine", safeguarding=False, summary=f"bench {i}",
                           outcome="advice")
        latencies.append(time.perf_counter() - began)


def es_pass(app: EsResidents, residents: int, contacts: int, threads: int) -> Pass:
    latencies: list[float] = []  # list.append is atomic under the GIL
    began = time.perf_counter()
    if threads <= 1:
        for n in range(residents):
            es_resident(app, n, contacts, latencies)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(es_resident, app, n, contacts, latencies) for n in range(residents)]:
                future.result()
    return summarise(latencies, time.perf_counter() - began)


def es_measure(workdir: Path, size: Size, *, synchronous: str | None = None, cache: bool = False,
               concurrent: bool = True) -> tuple[Pass, Pass | None]:
    app = open_app(workdir / f"es-{synchronous}-{cache}-{uuid7()}.sqlite", synchronous=synchronous, cache=cache)
    try:
        es_pass(app, 5, size.contacts, 1)  # warm-up
        sequential = es_pass(app, size.sequential_residents, size.contacts, 1)
        parallel = es_pass(app, size.concurrent_residents, size.contacts, size.threads) if concurrent else None
        return sequential, parallel
    finally:
        app.close()


# --- refusals confirmed against the stream (issue 9) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trips:
    p50_ms: float
    p99_ms: float
    messages: float  # client messages sent per command: one request each round trip


async def raw_round_trips(stream: JetStream, count: int) -> Trips:
    """The baseline: a raw nats-py JetStream publish (one request, one reply), one at a time."""
    latencies, sent = [], stream.nc.stats["out_msgs"]
    for n in range(count):
        began = time.perf_counter()
        await stream.js.publish(f"care.{uuid7()}", b"{}", headers={"Nats-Msg-Id": f"raw-{n}-{uuid7()}"})
        latencies.append(time.perf_counter() - began)
    return _trips(latencies, stream.nc.stats["out_msgs"] - sent)


async def command_trips(stream: JetStream, handler: CommandHandler, commands: list[tuple[str, Command]],
                        *, refused: bool) -> Trips:
    latencies, sent = [], stream.nc.stats["out_msgs"]
    for resident_id, command in commands:
        began = time.perf_counter()
        try:
            await handler.handle(resident_id, command, Context(actor=ACTOR, correlation_id=uuid7()))
        except DomainError:
            assert refused
        else:
            assert not refused
        latencies.append(time.perf_counter() - began)
    return _trips(latencies, stream.nc.stats["out_msgs"] - sent)


def _trips(latencies: list[float], sent: int) -> Trips:
    ms = [x * 1000 for x in latencies]
    return Trips(percentile(ms, 50), percentile(ms, 99), sent / len(latencies))


async def refusal_cost(stream: JetStream, handler: CommandHandler, count: int) -> list[Row]:
    """Sequential, on residents whose state is cached: accepted commands (one append, as before the change) and
    refused ones (an accept of a referral the resident does not have: confirmed by one direct get of the last
    sequence before the 404 is answered)."""
    residents = [uuid7() for _ in range(count)]
    for n, rid in enumerate(residents):
        await handler.handle(rid, register_command(n), Context(actor=ACTOR, correlation_id=uuid7()))
    raw = await raw_round_trips(stream, count)
    accepted = await command_trips(stream, handler, [(rid, contact_command(n)) for n, rid in enumerate(residents)],
                                   refused=False)
    refusals = await command_trips(stream, handler, [
        (rid, AcceptReferral(at=datetime.now(UTC), referral_id=uuid7(), by_team="dn-central")) for rid in residents],
        refused=True)
    print(f"[{NAME}] round trips: raw publish p50 {raw.p50_ms:.2f} ms; accepted command p50 {accepted.p50_ms:.2f} ms "
          f"({accepted.messages:.2f} requests each); refusal p50 {refusals.p50_ms:.2f} ms "
          f"({refusals.messages:.2f} requests each)")
    return [
        info_row(NAME, "raw JetStream publish p50 (baseline round trip)", raw.p50_ms, "ms"),
        Row(NAME, "accepted command p50 vs raw publish", accepted.p50_ms, "ms", raw.p50_ms, None,
            accepted.messages <= 1.0, f"1 request each (measured {accepted.messages:.2f})"),
        Row(NAME, "refused command p50 vs raw publish (confirmed by one direct get)", refusals.p50_ms, "ms",
            raw.p50_ms, None, refusals.messages <= 1.0, f"<= 1 extra request (measured {refusals.messages:.2f})"),
        info_row(NAME, "accepted command p99", accepted.p99_ms, "ms", raw.p99_ms),
        info_row(NAME, "refused command p99", refusals.p99_ms, "ms", raw.p99_ms),
    ]


# --- the benchmark --------------------------------------------------------------------------------------------



async def run(quick: bool = False) -> list[Row]:
    size = QUICK if quick else FULL
    async with jetstream(NAME) as stream:
        store = JetStreamEventStore(stream.nc, stream.js)
        handler = CommandHandler(store, ResidentStates(store, capacity=50000), retries=5)
        await frontdoor_pass(handler, 5, size.contacts, 1)  # warm-up
        fd_seq = await frontdoor_pass(handler, size.sequential_residents, size.contacts, 1)
        fd_con = await frontdoor_pass(handler, size.concurrent_residents, size.contacts, size.concurrency)
        refusal_rows = await refusal_cost(stream, handler, size.sequential_residents)
    with temp_dir(NAME) as workdir:
        es_seq, es_con = es_measure(workdir, size)
        assert es_con is not None
        normal_seq, normal_con = es_measure(workdir, size, synchronous="NORMAL")
        assert normal_con is not None
        cached_seq, _ = es_measure(workdir, size, synchronous="NORMAL", cache=True, concurrent=False)
    commands = size.contacts + 1
    print(f"[{NAME}] sequential {size.sequential_residents * commands} commands: frontdoor {fd_seq.rate:.0f}/s, "
          f"eventsourcing {es_seq.rate:.0f}/s (NORMAL {normal_seq.rate:.0f}/s, cached {cached_seq.rate:.0f}/s); "
          f"concurrent {size.concurrent_residents * commands}: frontdoor {fd_con.rate:.0f}/s "
          f"({size.concurrency} in flight), eventsourcing {es_con.rate:.0f}/s ({size.threads} threads), "
          f"NORMAL {normal_con.rate:.0f}/s")
    return [
        ratio_row(NAME, "sequential commands/s", fd_seq.rate, es_seq.rate, "commands/s", GOAL),
        info_row(NAME, "sequential p50", fd_seq.p50_ms, "ms", es_seq.p50_ms),
        info_row(NAME, "sequential p99", fd_seq.p99_ms, "ms", es_seq.p99_ms),
        ratio_row(NAME, f"concurrent commands/s ({size.concurrency} residents in flight vs {size.threads} threads)",
                  fd_con.rate, es_con.rate, "commands/s", GOAL),
        info_row(NAME, "concurrent p50", fd_con.p50_ms, "ms", es_con.p50_ms),
        info_row(NAME, "concurrent p99", fd_con.p99_ms, "ms", es_con.p99_ms),
        info_row(NAME, "sequential vs eventsourcing synchronous=NORMAL", fd_seq.rate, "commands/s", normal_seq.rate),
        info_row(NAME, "concurrent vs eventsourcing synchronous=NORMAL", fd_con.rate, "commands/s", normal_con.rate),
        info_row(NAME, "sequential vs eventsourcing NORMAL + aggregate cache", fd_seq.rate, "commands/s",
                 cached_seq.rate),
        *refusal_rows,
    ]


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))
