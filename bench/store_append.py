"""Benchmark 1: `JetStreamEventStore.append` with many appends in flight, against raw nats-py `js.publish`.

Both sides publish one event per append to a resident's literal subject with the same headers (Nats-Msg-Id,
Frontdoor-Type, Content-Type, Nats-Expected-Last-Subject-Sequence), `window` appends in flight: `window`
workers, each owning a slice of distinct residents and appending to them round by round with the sequence the
previous append returned. Envelopes are built before the clock starts; the store encodes them inside its
`append` (its real work), the raw side publishes bytes encoded beforehand (the transport's ceiling).
Runs alternate (store, raw, store, raw ...) and the median of each side is reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext

from bench.common import JetStream, Row, contact, envelope, info_row, jetstream, median, percentile, ratio_row
from events.codec import encode
from events.envelope import Envelope
from events.ids import uuid7
from events.store import EXPECTED_SEQ, JetStreamEventStore
from events.subjects import resident_subject

NAME = "store_append"
GOAL = 0.8


@dataclass(frozen=True, slots=True)
class Size:
    residents: int
    rounds: int
    window: int
    repeats: int


FULL = Size(residents=2000, rounds=5, window=200, repeats=3)
QUICK = Size(residents=400, rounds=2, window=200, repeats=1)


@dataclass(frozen=True, slots=True)
class Pass:
    rate: float  # appends per second
    p50_ms: float
    p99_ms: float


Workload = list[tuple[str, list[Envelope]]]  # (resident id, its envelopes, one per round)
AppendOne = Callable[[str, Envelope, int], Awaitable[int]]  # (resident, envelope, expected) -> new seq


def workload(size: Size) -> Workload:
    residents = [uuid7() for _ in range(size.residents)]
    return [(rid, [envelope(rid, contact(r)) for r in range(size.rounds)]) for rid in residents]


async def drive(load: Workload, window: int, append_one: AppendOne) -> Pass:
    latencies: list[float] = []

    async def worker(slot: int) -> None:
        mine = load[slot::window]
        expected = dict.fromkeys((rid for rid, _ in mine), 0)
        rounds = len(mine[0][1]) if mine else 0
        for r in range(rounds):
            for rid, envelopes in mine:
                began = time.perf_counter()
                expected[rid] = await append_one(rid, envelopes[r], expected[rid])
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(window)))
    elapsed = time.perf_counter() - began
    ms = [x * 1000 for x in latencies]
    return Pass(len(latencies) / elapsed, percentile(ms, 50), percentile(ms, 99))


def store_appender(store: JetStreamEventStore) -> AppendOne:
    async def append_one(rid: str, env: Envelope, expected: int) -> int:
        result = await store.append(rid, [env], expected_seq=expected)
        return result.seq

    return append_one


def raw_appender(js: JetStreamContext, load: Workload) -> AppendOne:
    encoded: dict[str, tuple[bytes, dict[str, str]]] = {}
    for _, envelopes in load:
        for env in envelopes:
            encoded[env.event_id] = encode(env)

    async def append_one(rid: str, env: Envelope, expected: int) -> int:
        payload, headers = encoded[env.event_id]
        ack = await js.publish(resident_subject(rid), payload, headers={**headers, EXPECTED_SEQ: str(expected)})
        return int(ack.seq)

    return append_one


async def atomic_batches(store: JetStreamEventStore, count: int, events: int, in_flight: int = 40) -> float:
    """Appends of `events` envelopes each (one atomic batch per append, new residents), `in_flight` at once:
    the server allows 50 batches in flight per stream. Returns appends (batches) per second."""
    load = [(rid, [envelope(rid, contact(i)) for i in range(events)]) for rid in (uuid7() for _ in range(count))]
    items = iter(load)

    async def worker() -> None:
        for rid, envelopes in items:
            await store.append(rid, envelopes, expected_seq=0)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return count / (time.perf_counter() - began)


async def measure(stream: JetStream, size: Size) -> tuple[list[Pass], list[Pass]]:
    store = JetStreamEventStore(stream.nc, stream.js)
    warm = Size(size.window, 1, size.window, 1)
    await drive(workload(warm), size.window, store_appender(store))
    raw_warm = workload(warm)
    await drive(raw_warm, size.window, raw_appender(stream.js, raw_warm))
    ours: list[Pass] = []
    raws: list[Pass] = []
    for _ in range(size.repeats):
        load = workload(size)
        ours.append(await drive(load, size.window, store_appender(store)))
        load = workload(size)
        raws.append(await drive(load, size.window, raw_appender(stream.js, load)))
    return ours, raws


async def run(quick: bool = False) -> list[Row]:
    size = QUICK if quick else FULL
    async with jetstream(NAME) as stream:
        ours, raws = await measure(stream, size)
        batch_count = size.residents // 4
        batched = {k: await atomic_batches(JetStreamEventStore(stream.nc, stream.js), batch_count, k) for k in (2, 10)}
    ours_rate, raw_rate = median([p.rate for p in ours]), median([p.rate for p in raws])
    print(f"[{NAME}] {size.residents * size.rounds} appends x {size.repeats}, {size.window} in flight: "
          f"store {[round(p.rate) for p in ours]}/s, raw {[round(p.rate) for p in raws]}/s")
    return [
        ratio_row(NAME, f"appends/s ({size.window} in flight)", ours_rate, raw_rate, "appends/s", GOAL),
        info_row(NAME, "append latency p50", median([p.p50_ms for p in ours]), "ms",
                 median([p.p50_ms for p in raws])),
        info_row(NAME, "append latency p99", median([p.p99_ms for p in ours]), "ms",
                 median([p.p99_ms for p in raws])),
        *(info_row(NAME, f"atomic batches of {k} events, 40 in flight, vs single appends", rate, "appends/s",
                   ours_rate) for k, rate in batched.items()),
    ]


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))
