"""The JetStream event store against a real nats-server: concurrency, atomic batches, idempotency, reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from events.catalogue import Caller, ContactRecorded, Event, ResidentRegistered
from events.claims import NhsNumberClaims
from events.codec import wrap
from events.envelope import Actor, Envelope
from events.errors import ConcurrencyConflict
from events.ids import uuid7
from events.store import JetStreamEventStore

ACTOR = Actor(id="ch-1", role="call_handler")
NOW = datetime(2026, 11, 22, 9, 14, 3, tzinfo=UTC)


def registered() -> ResidentRegistered:
    return ResidentRegistered(given_name="Ada", family_name="Lovelace", date_of_birth=date(1940, 1, 2),
                              postcode="SO14 7LY")


def contact(n: int = 0) -> ContactRecorded:
    return ContactRecorded(contact_id=f"c{n}", channel="phone", caller=Caller(relationship="self"),
                           needs=["mobility and falls"], summary=f"call {n}", outcome="advice")


def envelope(resident_id: str, event: Event, event_id: str | None = None) -> Envelope:
    return wrap(event, event_id=event_id or uuid7(), resident_id=resident_id, actor=ACTOR, occurred_at=NOW,
                correlation_id=uuid7())


@pytest.fixture
def store(nc: NATS, js: JetStreamContext) -> JetStreamEventStore:
    return JetStreamEventStore(nc, js)


async def test_append_then_read_back_in_order(store: JetStreamEventStore) -> None:
    rid = uuid7()
    first = await store.append(rid, [envelope(rid, registered())], expected_seq=0)
    second = await store.append(rid, [envelope(rid, contact(1))], expected_seq=first.seq)
    events = await store.read_resident(rid)
    assert [e.type for e in events] == ["ResidentRegistered", "ContactRecorded"]
    assert [e.seq for e in events] == [first.seq, second.seq]
    assert events[1].event == contact(1)


async def test_two_appends_with_the_same_expected_sequence_exactly_one_wins(store: JetStreamEventStore) -> None:
    rid = uuid7()
    base = await store.append(rid, [envelope(rid, registered())], expected_seq=0)
    results = await asyncio.gather(
        *(store.append(rid, [envelope(rid, contact(i))], expected_seq=base.seq) for i in range(10)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(wins) == 1 and len(conflicts) == 9
    assert len(await store.read_resident(rid)) == 2


async def test_a_new_resident_expects_zero(store: JetStreamEventStore) -> None:
    rid = uuid7()
    await store.append(rid, [envelope(rid, registered())], expected_seq=0)
    with pytest.raises(ConcurrencyConflict):
        await store.append(rid, [envelope(rid, registered())], expected_seq=0)


async def test_several_events_are_written_all_or_nothing(store: JetStreamEventStore) -> None:
    rid = uuid7()
    result = await store.append(rid, [envelope(rid, registered()), envelope(rid, contact(1))], expected_seq=0)
    assert [e.seq for e in await store.read_resident(rid)] == [result.seq - 1, result.seq]
    before = await store.count()
    with pytest.raises(ConcurrencyConflict):  # stale: the whole batch is refused
        await store.append(rid, [envelope(rid, contact(2)), envelope(rid, contact(3))], expected_seq=result.seq - 1)
    assert await store.count() == before
    assert len(await store.read_resident(rid)) == 2


async def test_a_retried_single_append_is_recognised_as_a_duplicate(store: JetStreamEventStore) -> None:
    rid = uuid7()
    env = envelope(rid, registered())
    first = await store.append(rid, [env], expected_seq=0)
    again = await store.append(rid, [env], expected_seq=first.seq)
    assert again.duplicate and again.seq == first.seq
    assert await store.count() == 1


async def test_a_retried_batch_is_already_written_not_an_error(store: JetStreamEventStore) -> None:
    rid = uuid7()
    batch = [envelope(rid, registered()), envelope(rid, contact(1))]
    first = await store.append(rid, batch, expected_seq=0)
    again = await store.append(rid, batch, expected_seq=first.seq)
    assert again.duplicate
    assert await store.count() == 2


async def test_reading_many_events_spans_several_direct_get_batches(store: JetStreamEventStore) -> None:
    rid = uuid7()
    seq = (await store.append(rid, [envelope(rid, registered())], expected_seq=0)).seq
    for start in range(0, 2400, 400):
        seq = (await store.append(rid, [envelope(rid, contact(i)) for i in range(start, start + 400)],
                                  expected_seq=seq)).seq
    other = uuid7()
    await store.append(other, [envelope(other, registered())], expected_seq=0)
    events = await store.read_resident(rid)
    assert len(events) == 2401
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert {e.resident_id for e in events} == {rid}
    assert await store.read_resident(uuid7()) == []
    assert len(await store.read_resident(rid, after_seq=events[-3].seq)) == 2


async def test_read_all_from_a_sequence(store: JetStreamEventStore) -> None:
    ids = [uuid7() for _ in range(5)]
    for rid in ids:
        await store.append(rid, [envelope(rid, registered())], expected_seq=0)
    seen = [e.seq async for e in store.read_all(from_seq=3)]
    assert seen == [3, 4, 5]


async def test_an_nhs_number_can_be_claimed_once(js: JetStreamContext) -> None:
    claims = await NhsNumberClaims.open(js)
    first = await claims.claim("9434765919", "r1")
    second = await claims.claim("9434765919", "r2")
    assert first.resident_id == "r1" and second.resident_id == "r1"
    await claims.release("9434765919", "r1")
    # A deleted claim can be taken again (nats-server #5162: create on a tombstone).
    third = await claims.claim("9434765919", "r3")
    assert third.resident_id == "r3"
    assert await claims.take_over(first, "r4") is None  # stale revision: someone else moved it


async def test_the_claimed_numbers_are_every_live_claim_and_no_released_one(js: JetStreamContext) -> None:
    claims = await NhsNumberClaims.open(js)
    assert await claims.numbers() == []
    numbers = [f"{n:010d}" for n in range(2_500)]  # more than one fetch's worth
    await asyncio.gather(*(claims.claim(n, f"r{n}") for n in numbers))
    await claims.claim(numbers[0], "someone else")  # a second claim of a number changes nothing
    await claims.release(numbers[1], f"r{numbers[1]}")
    assert sorted(await claims.numbers()) == numbers[:1] + numbers[2:]


async def test_many_concurrent_batches_all_land(store: JetStreamEventStore) -> None:
    """The server keeps at most 50 atomic batches in flight per stream; the store must not lose any past that."""
    ids = [uuid7() for _ in range(300)]
    results = await asyncio.gather(*(store.append(rid, [envelope(rid, registered()), envelope(rid, contact(1))],
                                                  expected_seq=0) for rid in ids))
    assert len({r.seq for r in results}) == 300
    assert await store.count() == 600


async def test_the_consistency_check_reports_a_claim_whose_registration_never_landed(
        nc: NATS, js: JetStreamContext, tmp_path: Path) -> None:
    from frontdoor.bootstrap import start_services, stop_services
    from frontdoor.consistency import check_claims
    from frontdoor.settings import Settings

    services = await start_services(Settings(nats_url=nc.connected_url.geturl() if nc.connected_url else "",
                                             data_dir=tmp_path, jwt_secret="x" * 32), run_projections=False)
    try:
        rid = uuid7()
        await services.claims.claim("9434765919", rid)  # the process "crashed" before appending
        landed = uuid7()
        await services.claims.claim("4010232137", landed)
        await services.store.append(landed, [envelope(landed, ResidentRegistered(
            nhs_number="4010232137", given_name="B", family_name="C", date_of_birth=date(1950, 1, 1),
            postcode="SO14 7LY"))], expected_seq=0)
        checked, problems = await check_claims(services, progress=False)
    finally:
        await stop_services(services)
    assert checked == 2
    assert [(p.number, p.resident_id) for p in problems] == [("9434765919", rid)]


async def test_a_young_claim_whose_registration_is_in_flight_is_not_taken_over(js: JetStreamContext,
                                                                               store: JetStreamEventStore) -> None:
    """Issue 9: an empty stream is also what a registration still in flight looks like. Only a claim older than
    any registration can take to land is an orphan; of two takers of an orphan, only one wins."""
    import orjson

    from frontdoor.application import nhs_numbers
    from frontdoor.domain.errors import NhsNumberTaken

    claims = await NhsNumberClaims.open(js)
    in_flight, late = uuid7(), uuid7()
    assert await nhs_numbers.claim(claims, store, "9434765919", in_flight)
    with pytest.raises(NhsNumberTaken, match="just now"):
        await nhs_numbers.claim(claims, store, "9434765919", late)
    assert (await claims.owner("9434765919")).resident_id == in_flight  # type: ignore[union-attr]

    kv = await js.key_value("NHS_NUMBERS")  # a claim left by a crash a while ago
    await kv.put("4010232137", orjson.dumps({"resident_id": uuid7(), "claimed_at": 1_000.0}))
    first, second = uuid7(), uuid7()
    outcomes = await asyncio.gather(nhs_numbers.claim(claims, store, "4010232137", first),
                                    nhs_numbers.claim(claims, store, "4010232137", second), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["NhsNumberTaken", "bool"]
    assert (await claims.owner("4010232137")).resident_id in (first, second)  # type: ignore[union-attr]


async def test_the_consistency_check_finds_a_number_registered_to_two_residents(
        nc: NATS, js: JetStreamContext, tmp_path: Path) -> None:
    """Whatever the claims say: a race they did not stop (or data from before they did) must still be found."""
    from frontdoor.bootstrap import start_services, stop_services
    from frontdoor.consistency import duplicate_numbers
    from frontdoor.settings import Settings

    services = await start_services(Settings(nats_url=nc.connected_url.geturl() if nc.connected_url else "",
                                             data_dir=tmp_path, jwt_secret="x" * 32), run_projections=False)
    try:
        twice = [uuid7(), uuid7()]
        for rid in [*twice, uuid7()]:
            number = "9434765919" if rid in twice else "4010232137"
            await services.store.append(rid, [envelope(rid, ResidentRegistered(
                nhs_number=number, given_name="B", family_name="C", date_of_birth=date(1950, 1, 1),
                postcode="SO14 7LY"))], expected_seq=0)
        found = await duplicate_numbers(services, progress=False)
    finally:
        await stop_services(services)
    assert [(p.number, p.resident_id) for p in found] == [("9434765919", ", ".join(sorted(twice)))]
