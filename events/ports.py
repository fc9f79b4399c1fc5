"""The store as the rest of the system sees it: a Protocol, so pure tests can use a small stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from events.envelope import Envelope, RecordedEvent


@dataclass(frozen=True, slots=True)
class AppendResult:
    """`seq` is the stream sequence of the last event written; `duplicate` means every event was already
    in the stream (a retry), in which case `seq` may be 0 when the server did not say where."""

    seq: int
    duplicate: bool = False


class EventStore(Protocol):
    async def append(
        self, resident_id: str, envelopes: Sequence[Envelope], *, expected_seq: int
    ) -> AppendResult: ...

    async def append_many(self, parts: Sequence[tuple[str, Sequence[Envelope], int]]) -> AppendResult: ...

    async def read_resident(self, resident_id: str, *, after_seq: int = 0) -> list[RecordedEvent]: ...

    async def recorded(self, resident_id: str, seq: int) -> RecordedEvent | None: ...

    async def last_subject_seq(self, resident_id: str) -> int: ...

    def read_all(self, *, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[RecordedEvent]: ...

    async def last_seq(self) -> int: ...
