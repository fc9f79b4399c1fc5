"""Command handling, the four steps (STYLE §3): load the resident, fold, decide, append with the expected
sequence; on a conflict go again. One generic function for every command, and one for a command on two records.

A cached state may speed a decision up, never change it (STYLE §16): a write is checked by the expected sequence
for free, but a refusal or a "nothing to write" decided on a cached state is confirmed first (one direct get of
the resident's last sequence); if another process wrote since, the state is read again and the command decided
again. Without that, a second API process answered 404 to legal declines and 200 to coordinator changes it never
wrote (issue 9).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

from events.catalogue import Event
from events.codec import wrap
from events.envelope import Actor, Envelope, RecordedEvent
from events.errors import ConcurrencyConflict, StoreUnavailable
from events.ids import derived_id, uuid7
from events.ports import EventStore
from frontdoor.domain.commands import Command
from frontdoor.domain.decide import decide
from frontdoor.domain.errors import DomainError, TooManyConflicts
from frontdoor.domain.state import ResidentState
from frontdoor.metrics import timed_append
from frontdoor.resident_states import Folded, ResidentStates

# After a conflict, up to this long (doubling per attempt to at most 16 times, random within) before deciding again.
CONFLICT_BACKOFF_S = 0.005
# A command that loses its retries to other writers goes on trying for at least this long before its 409.
CONFLICT_PATIENCE_S = 2.0


@dataclass(frozen=True, slots=True)
class Context:
    """Who asks, and how to recognise the same request again."""

    actor: Actor
    correlation_id: str
    # Fixes the ids of what the request writes, so a retry is recognised by the stream itself. The application
    # layer makes it from the client's Idempotency-Key *and* the request it came with (issue 9).
    idempotency_key: str | None = None
    causation_id: str | None = None
    occurred_at: datetime | None = None  # when it happened, if not now (e.g. a contact typed up later)


@dataclass(frozen=True, slots=True)
class Outcome:
    resident_id: str
    seq: int  # the stream sequence of the last event written (or the resident's current one if none)
    events: tuple[Event, ...]
    replayed: bool = False  # the same request was handled before: nothing new was written
    before: ResidentState | None = None  # the state the command was decided on


PairDecision = Callable[[ResidentState, ResidentState], tuple[list[Event], list[Event]]]
Guard = Callable[[ResidentState], None]  # raises a DomainError when the asker may not do this to this resident


class CommandHandler:
    def __init__(self, store: EventStore, states: ResidentStates, *, retries: int,
                 patience_s: float = CONFLICT_PATIENCE_S) -> None:
        self._store = store
        self._states = states
        self._retries = retries
        self._patience_s = patience_s

    async def handle(self, resident_id: str, command: Command, context: Context, *,
                     guard: Guard | None = None) -> Outcome:
        """`guard` runs on the same state as `decide`, so a refusal it makes is confirmed like any other."""
        async with self._states.exclusive(resident_id):
            return await self._handle(resident_id, command, context, guard)

    async def _handle(self, resident_id: str, command: Command, context: Context, guard: Guard | None) -> Outcome:
        fresh = False
        caught_up: Folded | None = None  # after a conflict: the state with what the other writer added
        for attempt in attempts(self._retries, self._patience_s):
            # read from the stream just now
            confirmed = fresh or caught_up is not None or not self._states.holds(resident_id)
            folded = caught_up or await self._states.load(resident_id, fresh=fresh)
            caught_up = None
            first_id = self._event_id(context, 0)
            if first_id in folded.event_seqs:
                return Outcome(resident_id, folded.event_seqs[first_id], (), replayed=True, before=folded.state)
            try:
                if guard is not None:
                    guard(folded.state)
                events = decide(command, folded.state)
            except DomainError:
                if confirmed or not await self._moved_on(resident_id, folded):
                    raise
                fresh = True
                continue
            if not events:
                if confirmed or not await self._moved_on(resident_id, folded):
                    return Outcome(resident_id, folded.seq, (), before=folded.state)
                fresh = True
                continue
            envelopes = self._wrap_all(resident_id, events, command, context)
            try:
                with timed_append():  # latency and conflicts, for /metrics
                    result = await self._store.append(resident_id, envelopes, expected_seq=folded.seq)
            except ConcurrencyConflict as conflict:
                await _back_off(attempt)
                caught_up = await self._states.catch_up(resident_id, folded, conflict.actual_seq)
                continue
            except StoreUnavailable:
                self._states.forget(resident_id)  # it may have landed: read again before the next command
                raise
            if result.duplicate:
                # Already written by an earlier try of this very request: report where it landed.
                again = await self._states.load(resident_id, fresh=True)
                seq = max((again.event_seqs.get(e.event_id, 0) for e in envelopes), default=again.seq)
                return Outcome(resident_id, seq, tuple(events), replayed=True, before=folded.state)
            self._states.remember(resident_id, folded.then(_recorded(envelopes, events, result.seq)))
            return Outcome(resident_id, result.seq, tuple(events), before=folded.state)
        raise TooManyConflicts(f"resident {resident_id} changed every time we wrote, for {self._patience_s:g} s "
                               "or longer; try again")

    def follow(self, recorded: RecordedEvent) -> None:
        """An event seen on the stream: the states this handler decides on keep up with it (ResidentStates.follow)."""
        self._states.follow(recorded)

    async def handle_pair(self, resident_id: str, other_id: str, decide_pair: PairDecision, command: Command,
                          context: Context) -> Outcome:
        """A command on two records (link, unlink, resolve-by-linking): both are locked (in a fixed order, so two
        pairs never wait on each other), both decided, and both parts appended as one atomic batch."""
        async with AsyncExitStack() as stack:
            for rid in sorted({resident_id, other_id}):
                await stack.enter_async_context(self._states.exclusive(rid))
            return await self._handle_pair(resident_id, other_id, decide_pair, command, context)

    async def _handle_pair(self, resident_id: str, other_id: str, decide_pair: PairDecision, command: Command,
                           context: Context) -> Outcome:
        fresh = False
        for attempt in attempts(self._retries, self._patience_s):
            confirmed = fresh or not (self._states.holds(resident_id) or self._states.holds(other_id))
            mine = await self._states.load(resident_id, fresh=fresh)
            theirs = await self._states.load(other_id, fresh=fresh) if other_id != resident_id else mine
            first_id = self._event_id(context, 0)
            for folded in (mine, theirs):
                if first_id in folded.event_seqs:
                    return Outcome(resident_id, folded.event_seqs[first_id], (), replayed=True, before=mine.state)
            try:
                my_events, their_events = decide_pair(mine.state, theirs.state)
            except DomainError:
                if confirmed or not await self._either_moved_on(resident_id, mine, other_id, theirs):
                    raise
                fresh = True
                continue
            if not my_events and not their_events:
                if confirmed or not await self._either_moved_on(resident_id, mine, other_id, theirs):
                    return Outcome(resident_id, mine.seq, (), before=mine.state)
                fresh = True
                continue
            envelopes = self._wrap_all(resident_id, my_events, command, context)
            others = self._wrap_all(other_id, their_events, command, context, offset=len(envelopes))
            try:
                result = await self._store.append_many([(resident_id, envelopes, mine.seq),
                                                        (other_id, others, theirs.seq)])
            except ConcurrencyConflict:
                self._states.forget(resident_id)
                self._states.forget(other_id)
                fresh = True
                await _back_off(attempt)
                continue
            except StoreUnavailable:
                self._states.forget(resident_id)
                self._states.forget(other_id)
                raise
            self._states.forget(resident_id)  # two subjects' sequences interleave in the batch: read them again
            self._states.forget(other_id)
            if result.duplicate:
                again = await self._states.load(resident_id, fresh=True)
                return Outcome(resident_id, max(again.event_seqs.get(e.event_id, 0) for e in envelopes or others),
                               tuple(my_events + their_events), replayed=True, before=mine.state)
            return Outcome(resident_id, result.seq, tuple(my_events + their_events), before=mine.state)
        raise TooManyConflicts(f"residents {resident_id} and {other_id} changed every time we wrote, for "
                               f"{self._patience_s:g} s or longer; try again")

    async def _moved_on(self, resident_id: str, folded: Folded) -> bool:
        """True when the stream has events the state did not fold: the decision must be taken again."""
        if await self._store.last_subject_seq(resident_id) == folded.seq:
            return False
        self._states.forget(resident_id)
        return True

    async def _either_moved_on(self, mine_id: str, mine: Folded, theirs_id: str, theirs: Folded) -> bool:
        moved = await self._moved_on(mine_id, mine)
        return await self._moved_on(theirs_id, theirs) or moved

    def _wrap_all(self, resident_id: str, events: list[Event], command: Command, context: Context, *,
                  offset: int = 0) -> list[Envelope]:
        return [self._wrap(resident_id, event, self._event_id(context, offset + i), command, context)
                for i, event in enumerate(events)]

    @staticmethod
    def _event_id(context: Context, position: int) -> str:
        if context.idempotency_key is None:
            return uuid7()
        # The same key always yields the same ids, so a retry is recognised by the stream itself.
        return derived_id("event", context.actor.id, context.idempotency_key, str(position))

    def _wrap(self, resident_id: str, event: Event, event_id: str, command: Command, context: Context) -> Envelope:
        return wrap(
            event,
            event_id=event_id,
            resident_id=resident_id,
            actor=context.actor,
            occurred_at=context.occurred_at or command.at,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
        )


def _recorded(envelopes: list[Envelope], events: list[Event], last_seq: int) -> list[RecordedEvent]:
    first = last_seq - len(envelopes) + 1
    return [RecordedEvent(first + i, env, event) for i, (env, event) in enumerate(zip(envelopes, events, strict=True))]


def attempts(retries: int, patience_s: float) -> Iterator[int]:
    """The tries of one command: `retries` of them, and more while `patience_s` has not passed since the first.
    A count alone was not enough: a writer that backs off after a conflict loses again to another process whose
    next command goes at once, and on a slow machine all five tries went inside 80 ms while the other process
    wrote fifteen contacts in a row (two processes, thirty contacts on one resident: a 409 in CI)."""
    until = time.monotonic() + patience_s
    attempt = 0
    while attempt < retries or time.monotonic() < until:
        yield attempt
        attempt += 1


async def _back_off(attempt: int) -> None:
    """A moment before deciding again after a conflict, longer each time and never the same for two writers: on a
    cluster the other write may still be being agreed on (err_code 10164), and an immediate retry met it again
    until the retries ran out (two processes, thirty contacts on one resident: a 409)."""
    await asyncio.sleep(random.uniform(0, CONFLICT_BACKOFF_S * 2 ** min(attempt, 4)))
