"""The detector's way back into the stream: a flag is a command like any other, decided against the resident's
current state (so an existing flag id writes nothing) and appended with the expected sequence. A store that is
away (StoreUnavailable) or a resident other writers kept changing (TooManyConflicts, raised as TryLater) is not the
event's fault: the runner applies the batch again later, so the flag is raised once the store answers."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from events.envelope import Actor, RecordedEvent
from frontdoor.domain import commands as c
from frontdoor.domain.errors import IllegalStep, TooManyConflicts, WorkNotFound
from frontdoor.handling import CommandHandler, Context
from frontdoor.metrics import FLAGS_RAISED
from projections.faults import TryLater
from projections.rules import Finding

DETECTOR = Actor(id="duplicate-detector", role="system")


class FlagWriter:
    def __init__(self, handler: CommandHandler) -> None:
        self._handler = handler

    def follow(self, recorded: RecordedEvent) -> None:
        self._handler.follow(recorded)

    def _context(self, cause: RecordedEvent, key: str) -> Context:
        # The key fixes the event id: a retried flag is recognised by the stream itself.
        return Context(actor=DETECTOR, correlation_id=cause.envelope.correlation_id,
                       causation_id=cause.envelope.event_id, idempotency_key=key,
                       occurred_at=cause.envelope.occurred_at)

    async def raise_flag(self, resident_id: str, finding: Finding, cause: RecordedEvent) -> None:
        command = c.FlagDuplication(at=datetime.now(UTC), flag_id=finding.flag_id, rule=finding.rule,
                                    severity=finding.severity, references=list(finding.references),
                                    explanation=finding.explanation)
        try:
            outcome = await self._handler.handle(resident_id, command,
                                                 self._context(cause, f"flag:{finding.flag_id}"))
        except TooManyConflicts as exc:  # other writers on the resident: not the event's fault, try again later
            raise TryLater(str(exc)) from exc
        if outcome.events and not outcome.replayed:  # a replay or an existing flag writes nothing: not raised
            FLAGS_RAISED.labels(finding.rule).inc()

    async def close_flag(self, resident_id: str, flag_id: str, cause: RecordedEvent) -> None:
        command = c.ResolveFlag(at=datetime.now(UTC), flag_id=flag_id, resolution="no_longer_duplicated",
                                by=DETECTOR.id, note="the duplication ended by itself")
        # Already resolved by a person in the meantime: nothing left to close.
        with contextlib.suppress(IllegalStep, WorkNotFound):
            try:
                await self._handler.handle(resident_id, command, self._context(cause, f"close:{flag_id}"))
            except TooManyConflicts as exc:
                raise TryLater(str(exc)) from exc
