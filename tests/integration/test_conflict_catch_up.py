"""After a conflict the command handler reads only what the other writer added, not the resident's whole history
(issue 15: every flag the detector raised cost the API a conflict and a read of the whole record), and decides
on exactly the state a whole read gives. Two handlers with their own cached states stand for two processes on
one real JetStream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.catalogue import EventSuperseded
from events.codec import decode, wrap
from events.envelope import Actor, Envelope, RecordedEvent
from events.ids import uuid7
from events.ports import AppendResult
from events.store import JetStreamEventStore, previous_seq
from events.subjects import resident_subject
from frontdoor.domain import commands as c
from frontdoor.domain.errors import TooManyConflicts
from frontdoor.domain.state import ResidentState
from frontdoor.handling import CommandHandler, Context
from frontdoor.resident_states import Folded, ResidentStates
from tests.unit.test_resident_rules import AT, RECORD_CONTACT, REGISTER

CONTEXT = Context(actor=Actor(id="t", role="call_handler"), correlation_id="c")


class CountingReads(JetStreamEventStore):
    """The real store, noting where each read of a resident starts."""

    def __init__(self, nc: NATS, js: JetStreamContext) -> None:
        super().__init__(nc, js)
        self.reads_after: list[int] = []

    async def read_resident(self, resident_id: str, *, after_seq: int = 0) -> list[RecordedEvent]:
        self.reads_after.append(after_seq)
        return await super().read_resident(resident_id, after_seq=after_seq)


def handler(store: JetStreamEventStore) -> tuple[CommandHandler, ResidentStates]:
    states = ResidentStates(store, capacity=100)
    return CommandHandler(store, states, retries=5), states


def contact(n: int) -> c.RecordContact:
    return RECORD_CONTACT.model_copy(update={"contact_id": f"contact-{n}"})


async def whole(store: JetStreamEventStore, resident_id: str) -> ResidentState:
    return Folded().then(await store.read_resident(resident_id)).state


async def test_a_conflict_reads_only_the_other_writers_events_and_decides_on_the_whole_state(
        nc: NATS, js: JetStreamContext) -> None:
    mine_store, theirs_store = CountingReads(nc, js), JetStreamEventStore(nc, js)
    mine, my_states = handler(mine_store)
    theirs, _ = handler(theirs_store)
    rid = uuid7()
    registered = await mine.handle(rid, REGISTER, CONTEXT)
    await mine.handle(rid, contact(1), CONTEXT)
    for n in (2, 3):
        await theirs.handle(rid, contact(n), CONTEXT)  # my cached state is now two events behind
    mine_store.reads_after.clear()

    outcome = await mine.handle(rid, contact(4), CONTEXT)

    assert len(mine_store.reads_after) == 1 and mine_store.reads_after[0] > registered.seq, \
        "only the events after my cached state were read"
    assert outcome.before is not None and outcome.before.contact_ids == {f"contact-{n}" for n in (1, 2, 3)}
    assert (await my_states.load(rid)).state == await whole(mine_store, rid)
    assert (await my_states.load(rid)).seq == outcome.seq


async def test_a_contact_already_written_by_the_other_writer_is_recognised_after_catching_up(
        nc: NATS, js: JetStreamContext) -> None:
    store = JetStreamEventStore(nc, js)
    mine, _ = handler(store)
    theirs, _ = handler(store)
    rid = uuid7()
    await mine.handle(rid, REGISTER, CONTEXT)
    first = await theirs.handle(rid, contact(1), CONTEXT)
    again = await mine.handle(rid, contact(1), CONTEXT)  # decided on a stale state: would write it twice
    assert again.events == () and again.seq == first.seq
    events: Sequence[RecordedEvent] = await store.read_resident(rid)
    assert [type(e.event).__name__ for e in events] == ["ResidentRegistered", "ContactRecorded"]


async def test_a_supersession_among_the_newer_events_reads_the_whole_history_again(
        nc: NATS, js: JetStreamContext) -> None:
    store = CountingReads(nc, js)
    mine, _ = handler(store)
    rid = uuid7()
    await mine.handle(rid, REGISTER, CONTEXT)
    written = await mine.handle(rid, contact(1), CONTEXT)
    marked = wrap(EventSuperseded(sequence=written.seq, reason="typed on the wrong record"), event_id=uuid7(),
                  resident_id=rid, actor=CONTEXT.actor, occurred_at=AT, correlation_id="c")
    await store.append(rid, [marked], expected_seq=written.seq)  # as the operator's use case writes it
    store.reads_after.clear()
    outcome = await mine.handle(rid, contact(2), CONTEXT)
    assert store.reads_after[-1] == 0, "read whole again: the supersession takes an earlier event out"
    assert outcome.before is not None and "contact-1" not in outcome.before.contact_ids


async def test_one_event_by_the_other_writer_is_fetched_by_its_sequence_alone(nc: NATS, js: JetStreamContext) -> None:
    store = CountingReads(nc, js)
    mine, my_states = handler(store)
    theirs, _ = handler(JetStreamEventStore(nc, js))
    rid = uuid7()
    await mine.handle(rid, REGISTER, CONTEXT)
    await theirs.handle(rid, contact(1), CONTEXT)
    store.reads_after.clear()
    outcome = await mine.handle(rid, contact(2), CONTEXT)
    assert store.reads_after == [], "no read of the subject: the conflict named the one event, fetched by sequence"
    assert outcome.before is not None and outcome.before.contact_ids == {"contact-1"}
    assert (await my_states.load(rid)).state == await whole(store, rid)


async def feed(js: JetStreamContext, resident_id: str) -> list[RecordedEvent]:
    """The resident's events as the projector's feed delivers them: decoded with the headers they were stored with."""
    found: list[RecordedEvent] = []
    seq = 0
    while True:
        try:
            msg = await js.get_msg("CARE", seq + 1, next=True, subject=resident_subject(resident_id), direct=True)
        except NotFoundError:
            return found
        seq = int(msg.seq or 0)
        found.append(decode(seq, msg.data or b"", previous_seq(msg.headers)))


async def test_a_state_followed_from_the_feed_decides_without_a_read_and_as_a_whole_read_would(
        nc: NATS, js: JetStreamContext) -> None:
    """The detector's flags (issue 15): the projector's states follow the events it sees, so a flag on a resident
    it saw from the start needs no read of the history, and the state is exactly what a read gives."""
    api, _ = handler(JetStreamEventStore(nc, js))
    store = CountingReads(nc, js)
    projector, followed = handler(store)
    rid = uuid7()
    await api.handle(rid, REGISTER, CONTEXT)
    for n in range(3):
        await api.handle(rid, contact(n), CONTEXT)
    for recorded in await feed(js, rid):
        followed.follow(recorded)
    assert followed.holds(rid)
    assert (await followed.load(rid)).state == await whole(store, rid)
    store.reads_after.clear()
    await projector.handle(rid, contact(9), CONTEXT)
    assert store.reads_after == []


async def test_a_followed_state_is_dropped_when_an_event_does_not_follow_it(nc: NATS, js: JetStreamContext) -> None:
    api, _ = handler(JetStreamEventStore(nc, js))
    _, followed = handler(JetStreamEventStore(nc, js))
    rid = uuid7()
    await api.handle(rid, REGISTER, CONTEXT)
    for n in range(3):
        await api.handle(rid, contact(n), CONTEXT)
    registration, _first, *rest = await feed(js, rid)
    followed.follow(registration)
    assert followed.holds(rid)
    followed.follow(rest[0])  # the second contact: the first one was missed
    assert not followed.holds(rid), "a gap: the state is dropped, never extended past a missing event"
    for recorded in rest:
        followed.follow(recorded)
    assert not followed.holds(rid), "only a resident's first event starts a state"
    followed.follow(replace(registration, previous_seq=None))
    assert not followed.holds(rid)


class Overtaken(JetStreamEventStore):
    """The real store, with another process's call handler getting in first: before each of my appends, the other
    writer records a contact on the same resident, as long as `overtakes` lasts."""

    def __init__(self, nc: NATS, js: JetStreamContext, other: CommandHandler, overtakes: int) -> None:
        super().__init__(nc, js)
        self.other = other
        self.overtakes = overtakes
        self.tries = 0

    async def append(self, resident_id: str, envelopes: Sequence[Envelope], *, expected_seq: int) -> AppendResult:
        self.tries += 1
        if self.tries <= self.overtakes:
            await self.other.handle(resident_id, contact(100 + self.tries), CONTEXT)
        return await super().append(resident_id, envelopes, expected_seq=expected_seq)


async def overtaken_handler(nc: NATS, js: JetStreamContext, overtakes: int,
                            patience_s: float) -> tuple[CommandHandler, Overtaken, str]:
    other, _ = handler(JetStreamEventStore(nc, js))
    store = Overtaken(nc, js, other, overtakes)
    rid = uuid7()
    await other.handle(rid, REGISTER, CONTEXT)
    return CommandHandler(store, ResidentStates(store, capacity=100), retries=5, patience_s=patience_s), store, rid


async def test_a_writer_overtaken_more_often_than_its_retries_goes_on_within_its_patience(
        nc: NATS, js: JetStreamContext) -> None:
    """Two processes writing one resident in a burst: the one that backs off after a conflict loses again to the
    other's next command. With five retries and nothing else, the seventh contact of a burst got a 409 in CI."""
    mine, store, rid = await overtaken_handler(nc, js, overtakes=8, patience_s=30.0)
    outcome = await mine.handle(rid, contact(1), CONTEXT)
    assert store.tries == 9 and outcome.events
    assert len([e for e in await store.read_resident(rid) if e.envelope.type == "ContactRecorded"]) == 9


async def test_a_writer_overtaken_past_its_retries_and_its_patience_is_told_to_try_again(
        nc: NATS, js: JetStreamContext) -> None:
    mine, store, rid = await overtaken_handler(nc, js, overtakes=8, patience_s=0.0)
    with pytest.raises(TooManyConflicts):
        await mine.handle(rid, contact(1), CONTEXT)
    assert store.tries == 5, "no patience: exactly its retries"
    assert "contact-1" not in Folded().then(await store.read_resident(rid)).state.contact_ids
