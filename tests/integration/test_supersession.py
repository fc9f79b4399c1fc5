"""A bad message on `care.<id>` does not break projections for ever (issue 9 item 9, projection side). Under
`stop` the projection stops on it, naming the sequence, and goes on by itself once an operator appends an
`EventSuperseded` naming that sequence to the same subject; the message is recorded as superseded, never
applied, and everything after it is. A projection that meets the bad message later (a rebuild) does the same."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.catalogue import Event, EventSuperseded
from events.codec import TYPE_HEADER, wrap
from events.envelope import Actor
from events.ids import uuid7
from events.store import JetStreamEventStore
from events.subjects import CARE_STREAM, resident_subject
from projections.queries import view_of
from projections.resident_view_projection import ResidentViewProjection
from projections.runner import ProjectionRunner
from projections.tables import dead_letters
from tests.integration.test_projection_runner import _until, contact, running, write_city

OPERATOR = Actor(id="operator", role="admin")


async def append(store: JetStreamEventStore, js: JetStreamContext, rid: str, event: Event) -> int:
    """Appends after whatever is on the subject, readable or not (read_resident would stop at a bad message)."""
    last = (await js.get_last_msg(CARE_STREAM, resident_subject(rid))).seq
    envelope = wrap(event, event_id=uuid7(), resident_id=rid, actor=OPERATOR, occurred_at=datetime.now(UTC),
                    correlation_id="c")
    return (await store.append(rid, [envelope], expected_seq=last)).seq


@pytest.mark.parametrize("bad", [b"not json at all", b'{"type": "ResidentRegistered"}'])
async def test_a_projection_stopped_on_a_bad_message_goes_on_once_it_is_superseded(
        nc: NATS, js: JetStreamContext, engine: AsyncEngine, bad: bytes) -> None:
    store = JetStreamEventStore(nc, js)
    [rid, other] = await write_city(store, 2, 1)
    poison = (await js.publish(resident_subject(rid), bad, headers={TYPE_HEADER: "ContactRecorded"})).seq
    await append(store, js, rid, contact(7))
    await append(store, js, other, contact(8))
    runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=50, supersession_poll_s=0.05)
    async with running(runner) as task:
        await _until(lambda: runner.status.state == "failed")
        assert f"stream sequence {poison}" in (runner.status.error or "")
        assert runner.status.applied_seq == poison - 1 and not task.done()
        await append(store, js, other, EventSuperseded(sequence=poison, reason="wrong resident"))  # not its subject
        await append(store, js, rid, EventSuperseded(sequence=poison - 1, reason="another sequence"))
        superseding = await append(store, js, rid, EventSuperseded(sequence=poison, reason="written by a bad import"))
        assert await runner.wait_for(await store.last_seq(), 20), runner.status
        assert runner.status.state == "live" and runner.status.error is None
    assert runner.status.superseded == 1 and runner.status.parked == 0
    async with engine.connect() as conn:
        view = await view_of(conn, rid)
        skipped = (await conn.execute(select(dead_letters))).mappings().all()
    assert view is not None and [c["contact_id"] for c in view["contacts"]] == ["c0", "c7"]
    assert view["version"] == superseding
    assert [(s["projection"], s["seq"]) for s in skipped] == [("resident_view", poison)]
    assert f"superseded by stream sequence {superseding}: written by a bad import" in skipped[0]["reason"]


async def test_a_rebuild_passes_over_a_message_superseded_long_before(nc: NATS, js: JetStreamContext,
                                                                      engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    [rid] = await write_city(store, 1, 1)
    poison = (await js.publish(resident_subject(rid), b"\xff\xfe")).seq
    await append(store, js, rid, EventSuperseded(sequence=poison, reason="garbage"))
    await append(store, js, rid, contact(9))
    runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=50, supersession_poll_s=0.05)
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20), runner.status
    assert runner.status.superseded == 1
    async with engine.connect() as conn:
        view = await view_of(conn, rid)
    assert view is not None and [c["contact_id"] for c in view["contacts"]] == ["c0", "c9"]


async def test_under_park_a_bad_message_is_parked_as_before(nc: NATS, js: JetStreamContext,
                                                            engine: AsyncEngine) -> None:
    store = JetStreamEventStore(nc, js)
    [rid] = await write_city(store, 1, 1)
    poison = (await js.publish(resident_subject(rid), b"nope")).seq
    await append(store, js, rid, contact(3))
    runner = ProjectionRunner(nc, js, engine, ResidentViewProjection(), batch=50, poison="park")
    async with running(runner):
        assert await runner.wait_for(await store.last_seq(), 20)
    assert runner.status.parked == 1 and runner.status.superseded == 0
    async with engine.connect() as conn:
        assert [row.seq for row in await conn.execute(select(dead_letters))] == [poison]
