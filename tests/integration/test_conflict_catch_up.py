"""After a conflict the command handler reads only what the other writer added, not the resident's whole history
(issue 15: every flag the detector raised cost the API a conflict and a read of the whole record), and decides
on exactly the state a whole read gives. Two handlers with their own cached states stand for two processes on
one real JetStream."""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from events.catalogue import EventSuperseded
from events.codec import wrap
from events.envelope import Actor, RecordedEvent
from events.ids import uuid7
from events.store import JetStreamEventStore
from frontdoor.domain import commands as c
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
