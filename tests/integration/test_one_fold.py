"""The resident view and the detector's copy fold a resident's events with the same fold, into a real database:
after each step of link from A, unlink from B, link again from B, both records read the same in both, whether
the links were written to both records (version 2) or, as before, to one (version 1, folded on both)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.catalogue import CareCoordinatorAssigned
from events.envelope import RecordedEvent
from projections.checkpoints import save_checkpoint
from projections.detector import EMITTED, DuplicateDetector
from projections.resident_view_projection import ResidentViewProjection
from projections.rules import Finding, Thresholds
from projections.tables import detector_views, resident_views
from tests.unit.fold_story import A, B, Streams, linked, registered, unlinked


class RecordedFlags:
    """The detector's flag sink, keeping what it was asked to do (the flags themselves are not this test's)."""

    def __init__(self) -> None:
        self.raised: list[tuple[str, str]] = []
        self.followed: list[int] = []

    def follow(self, recorded: RecordedEvent) -> None:
        self.followed.append(recorded.seq)

    async def raise_flag(self, resident_id: str, finding: Finding, cause: RecordedEvent) -> None:
        self.raised.append((resident_id, finding.rule))

    async def close_flag(self, resident_id: str, flag_id: str, cause: RecordedEvent) -> None:
        pass


async def documents(engine: AsyncEngine, table: object) -> dict[str, dict[str, object]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(table.c.resident_id, table.c.doc))  # type: ignore[attr-defined]
        return {rid: orjson.loads(doc) for rid, doc in rows}


async def project(engine: AsyncEngine, projections: Sequence[ResidentViewProjection | DuplicateDetector],
                  batch: list[RecordedEvent]) -> None:
    for projection in projections:
        async with engine.begin() as conn:
            await projection.apply(conn, batch)


@pytest.mark.parametrize("both_records", [True, False], ids=["written to both", "one-sided, as before"])
async def test_link_from_a_unlink_from_b_link_again_from_b_reads_the_same_in_the_view_and_the_detector(
        engine: AsyncEngine, both_records: bool) -> None:
    view, detector = ResidentViewProjection(), DuplicateDetector(RecordedFlags(), Thresholds())
    streams = Streams()

    def step(on: str, event: object, mirrored: object) -> list[RecordedEvent]:
        batch = [streams.add(on, event)]  # type: ignore[arg-type]
        if both_records:  # the command writes the other record's event in the same batch
            batch.append(streams.add(B if on == A else A, mirrored))  # type: ignore[arg-type]
        return batch

    await project(engine, (view, detector), [streams.add(A, registered("Ada")), streams.add(B, registered("Ada"))])
    steps = [
        (step(A, linked(A, B, both_records=both_records), linked(B, A)), {A: [B], B: [A]}),
        (step(B, unlinked(B, A, both_records=both_records), unlinked(A, B)), {A: [], B: []}),
        (step(B, linked(B, A, both_records=both_records), linked(A, B)), {A: [B], B: [A]}),
    ]
    for batch, expected in steps:
        await project(engine, (view, detector), batch)
        view.forget()  # the next step reads the stored documents back, not the ones held in memory
        detector.forget()

        views, copies = await documents(engine, resident_views), await documents(engine, detector_views)
        assert {rid: doc["linked_residents"] for rid, doc in views.items()} == expected
        for copy in copies.values():
            copy.pop("findings")
        assert copies == views


@pytest.mark.parametrize("first", [A, B], ids=["link made from A", "link made from B"])
async def test_a_link_on_both_records_of_two_coordinators_is_flagged_once(engine: AsyncEngine, first: str) -> None:
    sink = RecordedFlags()
    detector = DuplicateDetector(sink, Thresholds())
    streams = Streams()
    other = B if first == A else A
    batch = [streams.add(A, registered("Ada")), streams.add(B, registered("Ada")),
             streams.add(A, CareCoordinatorAssigned(team_id="dn-central", worker="Priya Shah")),
             streams.add(B, CareCoordinatorAssigned(team_id="mh-central", worker="Tom Reid"))]
    await project(engine, (detector,), batch)
    sink.raised.clear()  # the two registrations of one person are a possible duplicate: not this test's flag

    both = [streams.add(first, linked(first, other)), streams.add(other, linked(other, first))]
    await project(engine, (detector,), both)

    assert sink.raised == [(A, "two_coordinators")]  # from the record whose id sorts first, whichever made it


class RolledBack(Exception):
    pass


async def test_the_people_the_detector_holds_in_memory_are_what_the_tables_say(engine: AsyncEngine) -> None:
    """Issue 15: candidates come from an index in memory. A person whose batch did not commit must not be found
    after the runner has the detector forget; a person committed by another process (or before a restart) must
    be found by a detector that has never seen them."""
    streams, flags = Streams(), RecordedFlags()
    detector = DuplicateDetector(flags, Thresholds())
    ghost = streams.add("resident-c", registered("Ada"))
    with pytest.raises(RolledBack):
        async with engine.begin() as conn:
            await detector.apply(conn, [ghost])
            raise RolledBack  # the transaction does not commit
    detector.forget()  # what the runner does then
    await project(engine, (detector,), [streams.add(A, registered("Ada"))])
    assert flags.raised == []  # the ghost was never committed: nobody to be a duplicate of

    fresh = DuplicateDetector(flags, Thresholds())  # another process, or this one restarted
    await project(engine, (fresh,), [streams.add(B, registered("Ada"))])
    assert flags.raised == [(B, "possible_duplicate_resident")]


async def test_the_detector_s_sink_follows_only_what_comes_after_what_it_had_emitted(engine: AsyncEngine) -> None:
    """A replay (a rebuild) flags nothing up to the mark, so the sink's states are not kept up to date with it;
    from the first event past the mark on, every event is followed, in stream order, the same batch included."""
    sink, streams = RecordedFlags(), Streams()
    detector = DuplicateDetector(sink, Thresholds())
    history = [streams.add(A, registered("Ada")), streams.add(B, registered("Ada")),
               *(streams.add(A, e) for e in (linked(A, B), unlinked(A, B), linked(A, B)))]
    async with engine.begin() as conn:
        await save_checkpoint(conn, EMITTED, 3)
    await project(engine, (detector,), history[:2])
    assert sink.followed == []
    await project(engine, (detector,), history[2:])
    assert sink.followed == [4, 5]
