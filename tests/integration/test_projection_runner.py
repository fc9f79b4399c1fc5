"""The projection runner against real NATS and SQL: catch-up, live, no double application, poison events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import Table, func, select, text
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.catalogue import Caller, ContactRecorded, Event, ResidentRegistered
from events.codec import wrap
from events.envelope import Actor, RecordedEvent
from events.ids import uuid7
from events.store import JetStreamEventStore
from projections.checkpoints import CheckpointMoved, advance_checkpoint, load_checkpoint
from projections.projection import Reading
from projections.queries import view_of
from projections.resident_view_projection import ResidentViewProjection
from projections.runner import ProjectionRunner, ProjectionStopped
from projections.tables import dead_letters, residents

ACTOR = Actor(id="t", role="call_handler")
LETTERS = str.maketrans("0123456789abcdef", "qrstuvwxyzbcdfgh")


def contact(n: int) -> ContactRecorded:
    return ContactRecorded(contact_id=f"c{n}", channel="phone", caller=Caller(relationship="self"),
                           needs=["housing"], summary=f"call {n}", outcome="advice")


async def write_city(store: JetStreamEventStore, residents_count: int, contacts_each: int) -> list[str]:
    ids = [uuid7() for _ in range(residents_count)]

    async def one(index: int, rid: str) -> None:
        # Distinct people (names and birth dates differ), so the duplicate-person detector has nothing to say.
        events: list[Event] = [ResidentRegistered(given_name="Ada", family_name=rid[-10:].translate(LETTERS).title(),
                                                  date_of_birth=date(1930, 1, 1) + timedelta(days=index),
                                                  postcode="SO14 7LY")]
        events += [contact(i) for i in range(contacts_each)]
        now = datetime.now(UTC)
        await store.append(rid, [wrap(e, event_id=uuid7(), resident_id=rid, actor=ACTOR, occurred_at=now,
                                      correlation_id="c") for e in events], expected_seq=0)

    await asyncio.gather(*(one(i, rid) for i, rid in enumerate(ids)))
    return ids


@contextlib.asynccontextmanager
async def running(runner: ProjectionRunner) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(runner.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ProjectionStopped):
            await task


async def count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_catches_up_then_applies_live_events_and_wakes_readers(nc: NATS, js: JetStreamContext,
                                                                      engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    ids = await write_city(store, 50, 3)
    runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=40)
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20)
        assert await count(engine, residents) == 50
        env = wrap(contact(99), event_id=uuid7(), resident_id=ids[0], actor=ACTOR, occurred_at=datetime.now(UTC),
                   correlation_id="c")
        seq = (await store.append(ids[0], [env], expected_seq=await _last_of(store, ids[0]))).seq
        assert await runner.wait_for(seq, 10)
        async with engine.connect() as conn:
            view = await view_of(conn, ids[0])
        assert view is not None and [c["contact_id"] for c in view["contacts"]] == ["c0", "c1", "c2", "c99"]
        assert runner.status.state == "live"


async def _last_of(store: JetStreamEventStore, rid: str) -> int:
    return (await store.read_resident(rid))[-1].seq


@contextlib.asynccontextmanager
async def caught_up(nc: NATS, js: JetStreamContext, engine: AsyncEngine, projection: Any, residents: int,
                    **options: Any) -> AsyncIterator[tuple[JetStreamEventStore, list[str], ProjectionRunner]]:
    """`residents` registered, and a runner of `projection` running that has applied them."""
    store = JetStreamEventStore(nc, js)
    ids = await write_city(store, residents, 0)
    runner = ProjectionRunner(nc, js, engine, projection, batch=25, **options)
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20)
        yield store, ids, runner


async def append_contact(store: JetStreamEventStore, rid: str, n: int) -> int:
    """Call `n` from resident `rid`, appended after the resident's last event; its stream sequence."""
    env = wrap(contact(n), event_id=uuid7(), resident_id=rid, actor=ACTOR, occurred_at=datetime.now(UTC),
               correlation_id="c")
    return (await store.append(rid, [env], expected_seq=await _last_of(store, rid))).seq


async def test_a_redelivery_from_an_earlier_position_is_never_applied_twice(nc: NATS, js: JetStreamContext,
                                                                            engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    ids = await write_city(store, 20, 2)
    runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=25)
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20)
        applied = runner.status.events_applied
        await runner._feed.start(0)  # the server sends everything again, as after a lost ack or a restart
        await asyncio.sleep(0)
        assert await runner.wait_for(await store.last_seq(), 5)
        await _until(lambda: runner._feed._buffer.__len__() == 0)
    assert runner.status.events_applied == applied
    async with engine.connect() as conn:
        view = await view_of(conn, ids[0])
    assert view is not None and len(view["contacts"]) == 2


async def _until(condition: object, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


class Fussy(ResidentViewProjection):
    """Cannot apply one particular contact: a poison event."""

    name = "fussy"

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        for recorded in batch:
            if isinstance(recorded.event, ContactRecorded) and recorded.event.contact_id == "c1":
                raise ValueError("cannot read this contact")
        await super().apply(conn, batch)


async def test_a_poison_event_stops_the_projection_naming_its_sequence(nc: NATS, js: JetStreamContext,
                                                                      engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    await write_city(store, 1, 3)
    poison_seq = 3  # registration (1), c0 (2), c1 (3)
    runner = ProjectionRunner(nc, js, engine, Fussy(), batch=100)
    async with running(runner) as task:
        await _until(lambda: runner.status.state == "failed")
        assert f"sequence {poison_seq}" in (runner.status.error or "")
        assert runner.status.applied_seq == poison_seq - 1  # everything before it was applied, nothing after
        assert not task.done()  # stopped applying, still there: waiting for the event to be superseded


async def test_a_poison_event_can_be_parked_and_the_projection_goes_on(nc: NATS, js: JetStreamContext,
                                                                      engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    ids = await write_city(store, 1, 3)
    runner = ProjectionRunner(nc, js, engine, Fussy(), batch=100, poison="park")
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20)
    assert runner.status.parked == 1
    async with engine.connect() as conn:
        parked = (await conn.execute(select(dead_letters))).mappings().all()
        view = await view_of(conn, ids[0])
    assert [(p["projection"], p["seq"], p["event_type"]) for p in parked] == [("fussy", 3, "ContactRecorded")]
    assert "cannot read this contact" in parked[0]["reason"]
    assert view is not None and [c["contact_id"] for c in view["contacts"]] == ["c0", "c2"]


async def test_only_one_of_two_runners_applies_and_the_standby_takes_over(nc: NATS, js: JetStreamContext,
                                                                          engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    await write_city(store, 30, 3)
    first = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=20, lease_ttl_s=1.0)
    second = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=20, lease_ttl_s=1.0)
    async with running(first):
        await _until(lambda: first.leading)
        async with running(second):
            assert await first.wait_for(await store.last_seq(), 20)
            assert second.status.state == "standby" and second.status.events_applied == 0
            await write_city(store, 10, 1)
            assert await first.wait_for(await store.last_seq(), 20)
        assert second.status.events_applied == 0
    # The leader is gone (its lease released): a new runner leads and applies only what is new.
    third = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=20, lease_ttl_s=1.0)
    async with running(third):
        await _until(lambda: third.leading)
        await write_city(store, 5, 1)
        assert await third.wait_for(await store.last_seq(), 20)
    assert third.status.events_applied == 10
    assert await count(engine, residents) == 45


async def test_the_checkpoint_only_moves_from_where_the_writer_saw_it(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await advance_checkpoint(conn, "p", expected=0, seq=10)
    with pytest.raises(CheckpointMoved):
        async with engine.begin() as conn:
            await advance_checkpoint(conn, "p", expected=0, seq=20)  # a second "first" writer
    with pytest.raises(CheckpointMoved):
        async with engine.begin() as conn:
            await advance_checkpoint(conn, "p", expected=5, seq=20)  # a writer that fell behind
    async with engine.begin() as conn:
        await advance_checkpoint(conn, "p", expected=10, seq=20)
        assert await load_checkpoint(conn, "p") == 20


class FailsOnceAfterWriting(ResidentViewProjection):
    """Writes (and remembers) the batch, then its transaction fails: as when the database drops the connection
    at commit. The runner retries the batch; it must start again from the database, not from the memory."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        await super().apply(conn, batch)
        if not self.failed and any(isinstance(e.event, ContactRecorded) and e.event.contact_id == "c99"
                                   for e in batch):
            self.failed = True
            raise ConnectionError("the database went away at commit")


async def test_a_batch_retried_after_a_failed_commit_is_applied_once(nc: NATS, js: JetStreamContext,
                                                                      engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    ids = await write_city(store, 5, 2)
    projection = FailsOnceAfterWriting()
    runner = ProjectionRunner(nc, js, engine, projection, batch=25)
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20)
        env = wrap(contact(99), event_id=uuid7(), resident_id=ids[0], actor=ACTOR, occurred_at=datetime.now(UTC),
                   correlation_id="c")
        seq = (await store.append(ids[0], [env], expected_seq=await _last_of(store, ids[0]))).seq
        assert await runner.wait_for(seq, 20)
    assert projection.failed
    async with engine.connect() as conn:
        view = await view_of(conn, ids[0])
    assert view is not None and [c["contact_id"] for c in view["contacts"]] == ["c0", "c1", "c99"]


async def test_a_runner_with_nothing_to_catch_up_is_live_at_once(nc: NATS, js: JetStreamContext,
                                                                 engine: AsyncEngine) -> None:
    """/health should not say `catching_up` of a projection that has nothing to catch up (an empty stream)."""
    runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=25)
    seen: list[str] = []
    async with running(runner):
        while runner.status.state != "live":
            if not seen or seen[-1] != runner.status.state:
                seen.append(runner.status.state)
            await asyncio.sleep(0.001)
    assert "catching_up" not in seen, seen


async def test_a_reader_waiting_for_what_another_process_applied_wakes_when_this_one_takes_over(
        nc: NATS, js: JetStreamContext, engine: AsyncEngine) -> None:
    """A catch-up helper (or a leader before this one) applied the stream up to its end and stopped; the stream is
    quiet. A wait for that end, begun before this runner leads, is answered once it has read the checkpoint."""
    store = JetStreamEventStore(nc, js)
    await write_city(store, 5, 2)
    last = await store.last_seq()
    first = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=25)
    async with running(first):
        assert await first.wait_for(last, 20)
    second = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=25)
    waiting = asyncio.create_task(second.wait_for(last, 10))
    await asyncio.sleep(0.05)
    async with running(second):
        assert await waiting
        assert second.status.events_applied == 0  # nothing applied here: the checkpoint said it all


class CountsBatches(ResidentViewProjection):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        self.batches.append(len(batch))
        await super().apply(conn, batch)


async def test_live_events_that_arrive_while_it_gathers_are_committed_together(nc: NATS, js: JetStreamContext,
                                                                               engine: AsyncEngine) -> None:
    """Issue 15: live and busy, a projection commits at most every `gather_s`, taking everything that came
    meanwhile; nothing is lost or applied twice. (A long gather, so that the writes surely fall inside one.)"""
    projection = CountsBatches()
    async with caught_up(nc, js, engine, projection, 3, gather_s=2.0) as (store, ids, runner):
        assert runner.status.state == "live"
        before = len(projection.batches)
        last = 0
        for n, rid in enumerate(ids * 4):  # one at a time, each after the last was stored
            last = await append_contact(store, rid, n)
        assert await runner.wait_for(last, 20)
    live = projection.batches[before:]
    assert sum(live) == 12 and len(live) <= 2, live
    async with engine.connect() as conn:
        views = [await view_of(conn, rid) for rid in ids]
    assert all(v is not None and len(v["contacts"]) == 4 for v in views)


class WritesOnlyRegistrations:
    """Prepares each batch and says that only registrations change its rows."""

    name = "registrations_only"
    tables: Sequence[Table] = ()
    handles: frozenset[str] | None = None

    def __init__(self) -> None:
        self.applied: list[list[str]] = []

    async def prepare(self, reading: Reading, batch: Sequence[RecordedEvent]) -> bool:
        return any(isinstance(e.event, ResidentRegistered) for e in batch)

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        self.applied.append([e.type for e in batch])

    def forget(self) -> None:
        pass


async def test_a_batch_prepared_to_change_nothing_is_passed_over_without_a_transaction(
        nc: NATS, js: JetStreamContext, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: a batch whose projection prepared no row change (the team router's calls from residents no team
    is involved with) is not applied and commits nothing; the checkpoint follows once the feed goes quiet."""
    monkeypatch.setattr("projections.runner.SKIPPED_CHECKPOINT_EVERY_S", 60.0)  # only going quiet writes it
    projection = WritesOnlyRegistrations()
    async with caught_up(nc, js, engine, projection, 2) as (store, ids, runner):
        registered = await store.last_seq()
        async with engine.connect() as conn:
            assert await load_checkpoint(conn, projection.name) == registered
        last = 0
        for n in range(6):
            last = await append_contact(store, ids[n % 2], n)
        assert await runner.wait_for(last, 20)
        assert all("ResidentRegistered" in batch for batch in projection.applied), projection.applied
        async with engine.connect() as conn:
            assert await load_checkpoint(conn, projection.name) < last  # not written for the calls
        for _ in range(100):  # quiet for a second: the runner writes down how far it went
            async with engine.connect() as conn:
                if await load_checkpoint(conn, projection.name) == last:
                    break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the checkpoint was not written once the feed went quiet")
    assert all("ResidentRegistered" in batch for batch in projection.applied), projection.applied


async def test_a_projection_that_ignores_live_events_passes_them_over_together(nc: NATS, js: JetStreamContext,
                                                                              engine: AsyncEngine) -> None:
    """Issue 15: events a projection does not handle are gathered like those it writes: live and busy, it goes
    round (and announces how far it got) at most every `gather_s`, not once per event."""
    announced: list[int] = []

    async def announce(_name: str, seq: int) -> None:
        announced.append(seq)

    projection = ResidentViewProjection()
    projection.handles = frozenset({"ResidentRegistered"})  # the calls below are all passed over
    async with caught_up(nc, js, engine, projection, 3, gather_s=2.0, announce=announce) as (store, ids, runner):
        before = len(announced)
        last = 0
        for n, rid in enumerate(ids * 4):
            last = await append_contact(store, rid, n)
        assert await runner.wait_for(last, 20)
    live = announced[before:]
    assert live[-1] == last and len(live) <= 3, live


async def test_a_runner_told_to_write_every_batch_writes_those_it_passes_over_at_once(
        nc: NATS, js: JetStreamContext, engine: AsyncEngine) -> None:
    """A rebuild's second set (`skipped_checkpoint_every_s=0`): its switch compares the checkpoints as written,
    so each batch it passes over is written down as it goes."""
    projection = WritesOnlyRegistrations()
    async with caught_up(nc, js, engine, projection, 2, skipped_checkpoint_every_s=0.0) as (store, ids, runner):
        for n in range(4):
            last = await append_contact(store, ids[0], n)
            assert await runner.wait_for(last, 20)
            async with engine.connect() as conn:
                assert await load_checkpoint(conn, projection.name) == last


async def test_a_prepare_that_reads_nothing_checks_no_connection_out(engine: AsyncEngine) -> None:
    """`Reading` connects when first asked, once, and gives the connection back at the end of the batch: the
    team router's batches mostly read nothing, and a checkout for each was a quarter of its live CPU."""
    checkouts: list[int] = []
    sqlalchemy_event.listen(engine.sync_engine.pool, "checkout", lambda *_: checkouts.append(1))
    async with Reading(engine):
        pass
    assert checkouts == []
    async with Reading(engine) as reading:
        first = await reading.connection()
        assert await reading.connection() is first
        assert (await first.execute(text("SELECT 1"))).scalar() == 1
    assert len(checkouts) == 1
    assert engine.sync_engine.pool.checkedout() == 0, "given back"
