"""What a projection is: a name, its tables, and how a batch of events becomes rows (data in, rows out).
The runner (fetch, batch, transaction, checkpoint) is written once and shared by every projection."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Generic, Protocol, TypeVar, runtime_checkable

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import RecordedEvent


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[Table]: ...

    @property
    def handles(self) -> frozenset[str] | None:
        """The event types `apply` does anything with (None: all). The runner does not even decode the others,
        it only moves the checkpoint past them."""
        ...

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        """Writes the effect of `batch` (in stream order) inside the caller's transaction."""
        ...


@runtime_checkable
class Remembers(Protocol):
    """A projection that keeps documents in memory between batches (so it need not read back what it just wrote).
    The runner calls `forget` whenever a transaction does not commit, and before it starts to lead."""

    def forget(self) -> None: ...


class Reading:
    """The read connection a `prepare` is given, opened when first asked for. The team router holds its residents'
    rows in memory and most batches read nothing, yet checking a pooled connection out and back in (a rollback
    through aiosqlite's thread) for each of them was a quarter of its CPU under live load (issue 15)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = self._engine.connect()
            await conn.start()
            self._conn = conn
        return self._conn

    async def __aenter__(self) -> Reading:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


@runtime_checkable
class Prepares(Protocol):
    """A projection with work to do before its transaction: the runner calls `prepare` with the same batch just
    before `apply`, with a read connection to open if it needs one (`Reading`), outside the write turn (on
    SQLite one writer at a time per process). The team router publishes there, so a team's message waits for no
    other projection's transaction and no write turn is held over NATS round trips. `prepare` may run again for
    the same batch (a retry): what it does must be safe to repeat. A projection that prepares also `Remembers`:
    what was prepared is forgotten when the transaction does not commit. It returns False when `apply` would
    change no row: the runner may then pass over the batch without a transaction, as over events the projection
    does not handle."""

    async def prepare(self, reading: Reading, batch: Sequence[RecordedEvent]) -> bool: ...


Prepared = TypeVar("Prepared")


class PreparedBatch(Generic[Prepared]):
    """What `prepare` made of a batch, held for the `apply` of the same batch (by its first and last sequence
    and length). `apply` given another batch, or called without `prepare`, finds nothing and works it out itself."""

    def __init__(self) -> None:
        self._held: tuple[tuple[int, int, int], Prepared] | None = None

    def keep(self, batch: Sequence[RecordedEvent], prepared: Prepared) -> None:
        self._held = (_span(batch), prepared)

    def take(self, batch: Sequence[RecordedEvent]) -> Prepared | None:
        held, self._held = self._held, None
        return held[1] if held is not None and held[0] == _span(batch) else None

    def forget(self) -> None:
        self._held = None


def _span(batch: Sequence[RecordedEvent]) -> tuple[int, int, int]:
    return (batch[0].seq, batch[-1].seq, len(batch)) if batch else (0, 0, 0)
