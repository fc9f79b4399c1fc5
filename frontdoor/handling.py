"""Command handling, the four steps (STYLE §3): load the resident, fold, decide, append with the expected
sequence; on a conflict go again. One generic function for every command."""

from __future__ import annotations

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
from frontdoor.domain.errors import TooManyConflicts
from frontdoor.metrics import timed_append
from frontdoor.resident_states import ResidentStates


@dataclass(frozen=True, slots=True)
class Context:
    """Who asks, and how to recognise the same request again."""

    actor: Actor
    correlation_id: str
    idempotency_key: str | None = None
    causation_id: str | None = None
    occurred_at: datetime | None = None  # when it happened, if not now (e.g. a contact typed up later)


@dataclass(frozen=True, slots=True)
class Outcome:
    resident_id: str
    seq: int  # the stream sequence of the last event written (or the resident's current one if none)
    events: tuple[Event, ...]
    replayed: bool = False  # the same request was handled before: nothing new was written


class CommandHandler:
    def __init__(self, store: EventStore, states: ResidentStates, *, retries: int) -> None:
        self._store = store
        self._states = states
        self._retries = retries

    async def handle(self, resident_id: str, command: Command, context: Context) -> Outcome:
        async with self._states.exclusive(resident_id):
            return await self._handle(resident_id, command, context)

    async def _handle(self, resident_id: str, command: Command, context: Context) -> Outcome:
        for attempt in range(self._retries):
            folded = await self._states.load(resident_id, fresh=attempt > 0)
            first_id = self._event_id(context, 0)
            if first_id in folded.event_seqs:
                return Outcome(resident_id, folded.event_seqs[first_id], (), replayed=True)
            events = decide(command, folded.state)
            if not events:
                return Outcome(resident_id, folded.seq, ())
            ids = [first_id] + [self._event_id(context, i) for i in range(1, len(events))]
            envelopes = [self._wrap(resident_id, event, event_id, command, context)
                         for event_id, event in zip(ids, events, strict=True)]
            try:
                with timed_append():  # latency and conflicts, for /metrics
                    result = await self._store.append(resident_id, envelopes, expected_seq=folded.seq)
            except ConcurrencyConflict:
                self._states.forget(resident_id)
                continue
            except StoreUnavailable:
                self._states.forget(resident_id)  # it may have landed: read again before the next command
                raise
            if result.duplicate:
                # Already written by an earlier try of this very request: report where it landed.
                fresh = await self._states.load(resident_id, fresh=True)
                seq = max((fresh.event_seqs.get(e.event_id, 0) for e in envelopes), default=fresh.seq)
                return Outcome(resident_id, seq, tuple(events), replayed=True)
            self._states.remember(resident_id, folded.then(_recorded(envelopes, events, result.seq)))
            return Outcome(resident_id, result.seq, tuple(events))
        raise TooManyConflicts(f"resident {resident_id} changed {self._retries} times while we wrote; try again")

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
