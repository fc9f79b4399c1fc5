"""The stream read once per process (projections/shared_feed.py), against a real nats-server: every reader gets
every event after its own checkpoint exactly once and in order, whatever the others do; the fastest waits for the
slowest; a stalled reader is dropped rather than holding the others; a reader far behind reads alone until it has
caught up; and all projections rebuilt together through one shared consumer give the live rows."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import date

import httpx
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from events.subjects import CARE_STREAM
from frontdoor.bootstrap import all_projections
from frontdoor.demo_city.writer import write_city
from frontdoor.services import Services
from projections.feed import FeedGap, PullFeed
from projections.runner import ProjectionRunner
from projections.shared_feed import INACTIVE_S, FeedReader, SharedFeed
from tests.integration.test_rebuild_equality import DEADLINE_S, caught_up, dump, stream_of, tables_of, workload

BATCH = 16


async def publish(js: JetStreamContext, count: int) -> int:
    last = 0
    for n in range(count):
        last = (await js.publish(f"care.r{n % 7}", f"event {n}".encode(), headers={"Frontdoor-Type": "T"})).seq
    return last


def shared_feed(nc: NATS, js: JetStreamContext, **limits: float) -> SharedFeed:
    return SharedFeed(nc, js, stream=CARE_STREAM, name="test-shared", batch=BATCH, prefetch=2 * BATCH,
                      **limits)  # type: ignore[arg-type]


def reader(nc: NATS, js: JetStreamContext, shared: SharedFeed, name: str) -> FeedReader:
    return shared.reader(PullFeed(nc, js, stream=CARE_STREAM, durable=f"test-own-{name}", batch=BATCH))


async def read_until(feed: FeedReader, last: int, got: list[int], *, pause: float = 0.0) -> None:
    while not got or got[-1] < last:
        for delivery in await feed.next_batch(max_wait=1.0):
            got.append(delivery.seq)
        if pause:
            await asyncio.sleep(random.uniform(0, pause))


async def test_readers_from_different_checkpoints_each_get_every_later_event_once_read_once(
        nc: NATS, js: JetStreamContext) -> None:
    last = await publish(js, 300)
    shared = shared_feed(nc, js, capacity=50)
    first, second = reader(nc, js, shared, "a"), reader(nc, js, shared, "b")
    await first.start(0)
    await second.start(10)
    a: list[int] = []
    b: list[int] = []
    await asyncio.wait_for(asyncio.gather(read_until(first, last, a, pause=0.002),
                                          read_until(second, last, b, pause=0.01)), 30)
    assert a == list(range(1, last + 1))
    assert b == list(range(11, last + 1))
    assert not first.alone and not second.alone
    assert shared.delivered == last  # the server sent each event once for both
    # Named for this process alone, so the server removes it once a process that died stops pulling.
    assert (await js.consumer_info(CARE_STREAM, shared.durable)).config.inactive_threshold == INACTIVE_S
    await first.stop()
    await second.stop()


async def test_readers_started_at_once_share_one_consumer_and_get_live_events_once(
        nc: NATS, js: JetStreamContext) -> None:
    """The runners of a process start together: their joins must not each start the shared consumer (two
    subscriptions fed one window, and pulls went missing until they expired)."""
    shared = shared_feed(nc, js)
    starting, most = 0, 0
    start = shared._pull.start

    async def counted(after_seq: int) -> None:
        nonlocal starting, most
        starting += 1
        most = max(most, starting)
        try:
            await start(after_seq)
        finally:
            starting -= 1

    shared._pull.start = counted  # type: ignore[method-assign]
    readers = [reader(nc, js, shared, f"r{n}") for n in range(5)]
    await asyncio.gather(*(r.start(0) for r in readers))
    assert most == 1
    last = await publish(js, 100)
    got: list[list[int]] = [[] for _ in readers]
    await asyncio.wait_for(asyncio.gather(*(read_until(r, last, g) for r, g in zip(readers, got, strict=True))), 30)
    assert all(g == list(range(1, last + 1)) for g in got)
    assert shared.delivered == last
    for r in readers:
        await r.stop()


async def test_the_fastest_waits_for_the_slowest_and_a_stalled_reader_is_dropped(
        nc: NATS, js: JetStreamContext) -> None:
    last = await publish(js, 200)
    shared = shared_feed(nc, js, capacity=40, rewind_limit=20, stall_s=1.0)
    fast, slow = reader(nc, js, shared, "fast"), reader(nc, js, shared, "slow")
    await fast.start(0)
    await slow.start(0)
    taken = await slow.next_batch(max_wait=1.0, limit=5)
    assert [d.seq for d in taken] == [1, 2, 3, 4, 5]
    got: list[int] = []
    # While the slow reader is within its stall time, the fast one gets no further than the window allows (its
    # capacity, and at most one pull beyond it). Read until it is held back, not for a fixed number of waits: those
    # could add up to the stall time on a slow machine and let the slow reader be dropped first.
    for _ in range(200):
        got += [d.seq for d in await fast.next_batch(max_wait=0.05)]
        if fast.held_back:
            break
    assert 6 + 40 - 1 <= got[-1] < 6 + 40 + BATCH
    assert fast.held_back  # an empty batch that says "the others", not "the end of the stream"
    # Then the slow reader is dropped and the fast one goes on to the end.
    await asyncio.wait_for(read_until(fast, last, got), 30)
    assert got == list(range(1, last + 1))
    try:
        await slow.next_batch(max_wait=0.1)
        raise AssertionError("a dropped reader must be told its feed has a gap")
    except FeedGap:
        pass
    # Started again from its own position (as its runner does), it gets the rest, each once: far behind the
    # others now, through its own consumer.
    await slow.start(5)
    assert slow.alone
    rest: list[int] = []
    await asyncio.wait_for(read_until(slow, last, rest), 30)
    assert rest == list(range(6, last + 1))
    await fast.stop()
    await slow.stop()


async def test_a_reader_far_behind_reads_alone_then_rejoins_once_it_has_caught_up(
        nc: NATS, js: JetStreamContext) -> None:
    last = await publish(js, 150)
    shared = shared_feed(nc, js, capacity=50, rewind_limit=20)
    ahead, behind = reader(nc, js, shared, "ahead"), reader(nc, js, shared, "behind")
    await ahead.start(140)
    await behind.start(0)
    assert behind.alone and behind.durable == "test-own-behind"
    a: list[int] = []
    b: list[int] = []
    await asyncio.wait_for(read_until(ahead, last, a), 30)
    await asyncio.wait_for(read_until(behind, last, b), 30)
    assert a == list(range(141, last + 1)) and b == list(range(1, last + 1))
    assert not behind.alone and behind.durable == shared.durable  # back on the shared consumer
    more = await publish(js, 10)
    await asyncio.wait_for(asyncio.gather(read_until(ahead, more, a), read_until(behind, more, b)), 30)
    assert a == list(range(141, more + 1)) and b == list(range(1, more + 1))
    await ahead.stop()
    await behind.stop()


async def test_a_reader_joining_a_little_behind_rewinds_the_shared_consumer(nc: NATS, js: JetStreamContext) -> None:
    last = await publish(js, 120)
    shared = shared_feed(nc, js, capacity=50, rewind_limit=100)
    first, late = reader(nc, js, shared, "first"), reader(nc, js, shared, "late")
    await first.start(60)
    a: list[int] = []
    while len(a) < 30:
        a += [d.seq for d in await first.next_batch(max_wait=1.0)]
    await late.start(40)  # behind what the shared consumer still keeps, within the rewind limit
    assert not late.alone
    b: list[int] = []
    await asyncio.wait_for(asyncio.gather(read_until(first, last, a), read_until(late, last, b)), 30)
    assert a == list(range(61, last + 1)) and b == list(range(41, last + 1))
    await first.stop()
    await late.stop()


async def test_every_projection_rebuilt_together_through_one_narrow_shared_consumer_gives_the_live_rows(
        client: httpx.AsyncClient, services: Services) -> None:
    """A window of 20 events and pulls of 3: the readers wait on each other all the time, and the rows are still
    those of the live projections (which read through the process's shared consumer too)."""
    await workload(client)
    await write_city(services, residents=40, seed=5, progress=False, today=date(2026, 11, 23))
    ends = await caught_up(services, services.runners)
    consumers = {c.name for c in await services.js.consumers_info(CARE_STREAM)}
    assert len([c for c in consumers if c.startswith("projections-CARE-")]) == 1, consumers
    assert not {c for c in consumers if c.startswith("projection-")}, consumers  # nobody read alone
    projections = all_projections(services)
    tables = tables_of(projections)
    live = await dump(services, tables)
    for task in services.tasks:
        task.cancel()
    for task in services.tasks:
        with contextlib.suppress(BaseException):
            await task

    shared = SharedFeed(services.nc, services.js, stream=CARE_STREAM, name="test-rebuild", batch=3, prefetch=6,
                        capacity=20)
    runners = [ProjectionRunner(services.nc, services.js, services.engine, p, batch=3, window=7,
                                stream=stream_of(p), shared=shared if stream_of(p) == CARE_STREAM else None)
               for p in projections]
    for runner in runners:
        await runner.reset()
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        for runner in runners:
            assert await runner.wait_for(ends[runner.stream], DEADLINE_S), (runner.name, runner.status)
            assert runner.status.parked == 0 and runner.status.superseded == 0
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    rebuilt = await dump(services, tables)
    for table in tables:
        assert rebuilt[table.name] == live[table.name], table.name
    assert shared.delivered >= ends[CARE_STREAM]
