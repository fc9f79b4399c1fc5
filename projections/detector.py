"""The duplicate-work detector: a projection that also decides (DESIGN §1, §5).

It keeps its own copy of each resident's view (the same fold as the resident view), runs the rules after every
event, and asks the sink to flag what they find, or to close a flag whose cause went away by itself. Flags have
deterministic ids and the store refuses a second one, so a redelivery, a restart or a second detector never
flags twice. While it replays what it has already handled (a rebuild), it emits nothing at all: the highest
sequence it has ever handled is kept apart from its checkpoint and survives a rebuild.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Protocol

from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import (
    CareCoordinatorAssigned,
    DuplicationResolved,
    ResidentDetailsCorrected,
    ResidentRegistered,
    ResidentsLinked,
)
from events.envelope import RecordedEvent
from projections import people_matching as matching
from projections import rules
from projections.checkpoints import load_checkpoint, save_checkpoint
from projections.emitted_marks import EmittedMarks
from projections.people_index import PeopleIndex
from projections.projection import PreparedBatch, Reading
from projections.recent_documents import RecentDocuments
from projections.resident_view import fold_into, touches
from projections.resident_view_projection import load_views
from projections.rules import DetectorView
from projections.tables import detector_blocks, detector_people, detector_views
from projections.upsert import upsert

EMITTED = "duplicate_detector.emitted"
# A block this big says nothing (a placeholder birth date, a care home's postcode): compare with a bounded few.
MAX_CANDIDATES = 500
FLAG_WRITERS = 32  # residents whose flags are written at once


@dataclass(frozen=True, slots=True)
class _Decided:
    """What a batch comes to, to be written in its transaction."""

    views: dict[str, DetectorView]
    registered: dict[str, tuple[matching.Person, frozenset[str]]]
    emitted_through: int | None  # the "emitted up to" mark to store, when the batch went past it


class FlagSink(Protocol):
    def follow(self, recorded: RecordedEvent) -> None:
        """Every event the detector folds past what it had emitted before, in stream order, before its flags are
        written: a sink may keep what it decides on up to date with them."""

    async def raise_flag(self, resident_id: str, finding: rules.Finding, cause: RecordedEvent) -> None: ...

    async def close_flag(self, resident_id: str, flag_id: str, cause: RecordedEvent) -> None: ...


class DuplicateDetector:
    name = "duplicate_detector"
    tables: Sequence[Table] = (detector_views, detector_people, detector_blocks)
    handles: frozenset[str] | None = None

    def __init__(self, sink: FlagSink, thresholds: rules.Thresholds, marks: EmittedMarks | None = None) -> None:
        self._sink = sink
        self._marks = marks
        self._limits = thresholds
        self._recent = RecentDocuments(DetectorView.load)
        self._people = PeopleIndex()
        self.flags_raised = 0
        self._prepared: PreparedBatch[_Decided] = PreparedBatch()
        self._emitted_up_to: int | None = None  # the "emitted up to" mark as stored; None: read it again

    def forget(self) -> None:
        self._recent.forget()
        self._people.forget()
        self._prepared.forget()
        self._emitted_up_to = None

    async def prepare(self, reading: Reading, batch: Sequence[RecordedEvent]) -> bool:
        """Folds the batch and raises its flags before the transaction (the runner calls this on a read
        connection), so no write turn is held while each flag's command goes through NATS: on SQLite that turn is
        every projection's in the process. A flag raised here whose transaction then fails is raised again by the
        retry and refused as the same flag (its id is deterministic)."""
        decided = await self._decide(await reading.connection(), batch)
        self._prepared.keep(batch, decided)
        return bool(decided.views or decided.registered or decided.emitted_through is not None)

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        decided = self._prepared.take(batch)
        if decided is None:
            decided = await self._decide(conn, batch)
        await _write_people(conn, decided.registered)
        written = {rid: v.to_json().decode() for rid, v in decided.views.items()}
        await upsert(conn, detector_views, [{"resident_id": rid, "doc": doc} for rid, doc in written.items()],
                     key=["resident_id"])
        if decided.emitted_through is not None:
            await save_checkpoint(conn, EMITTED, decided.emitted_through)
            self._emitted_up_to = decided.emitted_through  # forgotten with the rest if this does not commit
        self._recent.keep(decided.views, written)

    async def _decide(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> _Decided:
        """The fold and the rules over `batch`, its flags raised and closed (those of events not handled before)."""
        if self._emitted_up_to is None:  # only this detector moves the mark: read once per lead, then kept
            self._emitted_up_to = await load_checkpoint(conn, EMITTED)
            if self._marks is not None:  # a new database knows nothing of what was emitted: NATS does
                self._emitted_up_to = max(self._emitted_up_to, await self._marks.load(EMITTED))
        emitted_up_to = self._emitted_up_to
        touched = {rid for e in batch for rid in touches(e)}
        views, missing = self._recent.take(touched)
        views |= await load_views(conn, missing, detector_views, DetectorView.from_document)
        registered: dict[str, tuple[matching.Person, frozenset[str]]] = {}  # this batch's, written at its end
        writes: dict[str, list[Callable[[], Awaitable[None]]]] = {}  # each resident's flag writes, in order
        raising = 0
        for recorded in batch:
            # What a replay (seq <= the mark) folds flags nothing, so the sink's states need not follow it: at a
            # rebuild that fold was a tenth of the detector's time, for states evicted long before the mark. A
            # resident whose state was not followed is read whole at its first flag after the mark.
            if recorded.seq > emitted_up_to:
                self._sink.follow(recorded)
            # The one fold, links and unlinks included: this copy sees every record exactly as the view does.
            view = fold_into(views, recorded, DetectorView)[0]
            event = recorded.event
            findings = rules.findings_for(view, recorded, self._limits)
            if isinstance(event, CareCoordinatorAssigned) or _raises_on_link(recorded):
                linked = await self._linked_views(conn, view, views)
                findings += rules.two_coordinators(recorded.resident_id, view.care_coordinator, linked)
            if isinstance(event, ResidentRegistered | ResidentDetailsCorrected):
                findings += await self._possible_duplicates(conn, view, registered)
            for finding in findings:
                view.remember(finding)
            closing = [f.flag_id for f in view.open_flags if not rules.still_duplicated(view, f)]
            if recorded.seq <= emitted_up_to:
                continue  # handled before this replay: its flags are already in the stream
            known = {f.flag_id for f in view.open_flags} | {f.flag_id for f in view.resolved_flags}
            steps = writes.setdefault(recorded.resident_id, [])
            for finding in findings:
                if finding.flag_id not in known:
                    steps.append(partial(self._sink.raise_flag, recorded.resident_id, finding, recorded))
                    raising += 1
            if not isinstance(event, DuplicationResolved):
                steps += [partial(self._sink.close_flag, recorded.resident_id, flag_id, recorded)
                          for flag_id in closing]
        await write_flags(writes)
        self.flags_raised += raising
        if self._marks is not None and batch[-1].seq > emitted_up_to:
            await self._marks.save(EMITTED, batch[-1].seq)  # the batch's flags are in the stream: all of them
        return _Decided(views, registered, batch[-1].seq if batch[-1].seq > emitted_up_to else None)

    async def _linked_views(self, conn: AsyncConnection, view: DetectorView, views: dict[str, DetectorView]
                            ) -> dict[str, DetectorView]:
        found, missing = self._recent.take(r for r in view.linked_residents if r not in views)
        views.update(found)
        views.update(await load_views(conn, missing, detector_views, DetectorView.from_document))
        return {r: views[r] for r in view.linked_residents if r in views}

    async def _possible_duplicates(self, conn: AsyncConnection, view: DetectorView,
                                   registered: dict[str, tuple[matching.Person, frozenset[str]]]
                                   ) -> list[rules.Finding]:
        """Candidates by blocking (from the people index in memory), then scored. People registered or corrected
        earlier in this batch are in the index at once, and in `registered` for the tables, written once at the
        end of the batch: the answer is what it would be one event at a time."""
        d = view.details
        assert d is not None
        person = matching.Person(view.resident_id, d.given_name, d.family_name, date.fromisoformat(d.date_of_birth),
                                 d.postcode, d.nhs_number)
        probe = matching.probe_keys(person)
        await self._people.ready(conn)
        candidates = {other.resident_id: other
                      for other in self._people.candidates(probe, besides=person.resident_id, limit=MAX_CANDIDATES)}
        findings = []
        for rid in sorted(candidates):
            other = candidates[rid]
            if rid in view.linked_residents:
                continue
            value = matching.score(other, person)
            if value >= self._limits.person_match:
                refs = tuple(sorted((rid, person.resident_id)))
                findings.append(rules.Finding("possible_duplicate_resident", "medium", refs,
                                              matching.explain(other, person, value)))
        keys = frozenset(matching.blocking_keys(person))
        self._people.put(person, keys)  # the rest of this batch sees it at once; the tables at the batch's end
        registered[person.resident_id] = (person, keys)
        return findings


async def write_flags(writes: dict[str, list[Callable[[], Awaitable[None]]]]) -> None:
    """Each resident's flag writes in order, the residents' side by side (at most FLAG_WRITERS at a time). One
    after another, each waiting for its command's round trips through NATS, a burst of flags (a city's calls
    about one need) held the detector seconds behind the stream, and with it every flag (issue 15). A failure
    is raised as itself once the others have stopped: the runner then applies the batch again, and flags
    already written are refused as the same flags (their ids are deterministic)."""
    if not any(writes.values()):
        return
    slots = asyncio.Semaphore(FLAG_WRITERS)

    async def in_order(steps: list[Callable[[], Awaitable[None]]]) -> None:
        async with slots:
            for step in steps:
                await step()

    try:
        async with asyncio.TaskGroup() as group:
            for steps in writes.values():
                if steps:
                    group.create_task(in_order(steps))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


def _raises_on_link(recorded: RecordedEvent) -> bool:
    """Whether a link is the moment to compare the two records' coordinators. A one-sided (version 1) link is on
    one stream only: there. A link on both records' streams is looked at from the record whose id sorts first, so
    the pair is flagged once, on one record, whichever order the two events come in."""
    event = recorded.event
    if not isinstance(event, ResidentsLinked):
        return False
    return not event.both_records or recorded.resident_id < event.other_resident_id


async def _write_people(conn: AsyncConnection, registered: dict[str, tuple[matching.Person, frozenset[str]]]) -> None:
    """The batch's people and their blocking keys, in three set-based statements rather than three per person."""
    if not registered:
        return
    ids = sorted(registered)
    for start in range(0, len(ids), 500):
        await conn.execute(delete(detector_blocks).where(detector_blocks.c.resident_id.in_(ids[start:start + 500])))
    await conn.execute(detector_blocks.insert(), [{"block_key": k, "resident_id": rid} for rid in ids
                                                  for k in sorted(registered[rid][1])])
    await upsert(conn, detector_people, [{
        "resident_id": p.resident_id, "given_name": p.given_name, "family_name": p.family_name,
        "date_of_birth": p.date_of_birth, "postcode": p.postcode, "nhs_number": p.nhs_number,
    } for p, _keys in (registered[rid] for rid in ids)], key=["resident_id"])
