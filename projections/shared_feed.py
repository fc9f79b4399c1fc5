"""One read of a stream shared by the projections of a process.

Five projections read the care stream. Each pulling it through a durable consumer of its own meant the server
sent every event five times and nats-py parsed every message (its four headers a character at a time) five
times: measured, over a third of a rebuild's time, and a large part of a live projector's CPU per contact. Here
one consumer per process reads the stream into a window of recent deliveries, and each projection's
`FeedReader` takes its events from that window at its own pace, from its own checkpoint.

The window is bounded. The fastest reader waits once it is `capacity` events ahead of the slowest (in one event
loop the total work is the same; the readers simply stay close enough for a decoded event to serve them all).
A reader that takes nothing for `stall_s` while others wait on it (its database down, its writes failing) is
dropped: its next `next_batch` raises `FeedGap`, and when its runner starts it again it rejoins, or, if it is
now far behind, reads through a consumer of its own (today's per-projection durable) until it has caught up
with the shared one. A reader joining a little behind the window (runners of one process start from
checkpoints a window or two apart) rewinds the shared consumer rather than reading alone.
"""

from __future__ import annotations

import asyncio
import bisect
import time
import uuid

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from projections.feed import Delivery, FeedGap, PullFeed

# Deliveries kept for the slowest reader (and at most one pull more); DecodedEvents in the process keeps as many.
CAPACITY = 10_000
REWIND_LIMIT = 5_000  # a reader joining at most this far behind the window rewinds it; further, it reads alone
STALL_S = 10.0
# Unused shared consumers (a process that died) are removed by the server after this long.
INACTIVE_S = 120.0


class SharedFeed:
    """The stream read once, through a consumer this process owns (its name is unique to the process)."""

    def __init__(self, nc: NATS, js: JetStreamContext, *, stream: str, name: str, batch: int, prefetch: int,
                 capacity: int = CAPACITY, rewind_limit: int = REWIND_LIMIT, stall_s: float = STALL_S) -> None:
        self.durable = f"{name}-{uuid.uuid4().hex[:12]}"
        self._pull = PullFeed(nc, js, stream=stream, durable=self.durable, batch=batch, prefetch=prefetch,
                              inactive_threshold_s=INACTIVE_S)
        self._capacity, self._rewind_limit, self._stall_s = capacity, rewind_limit, stall_s
        self._readers: set[FeedReader] = set()
        self._window: list[Delivery] = []  # contiguous deliveries of the stream, from `_floor` on
        self._seqs: list[int] = []  # their sequences, for bisect
        self._first = 0  # index in _window of the first delivery still kept
        self._floor = 1  # the lowest sequence still served: everything from here on is in the window or to come
        self._running = False
        self._restart = False  # a pull failed or lost a delivery: start the consumer again where the window ends
        self._pulling = asyncio.Lock()
        self._moved = asyncio.Event()  # a reader took something: there may be room to pull again
        self.delivered = 0  # messages this process received for all its readers together

    def reader(self, private: PullFeed) -> FeedReader:
        """A projection's reader; `private` is the consumer it reads through while it is far from the others."""
        return FeedReader(self, private)

    # ---- joining and leaving ----

    async def join(self, reader: FeedReader, after_seq: int) -> bool:
        """Registers `reader` from `after_seq + 1`; False if it is too far from the others and must read alone.
        Under the pulling lock: a consumer started again while another reader pulls from it would mix the old
        consumer's deliveries into the new window."""
        wanted = after_seq + 1
        async with self._pulling:
            if not self._readers:
                await self._start_at(after_seq)
            elif wanted < self._floor:
                if self._floor - wanted > self._rewind_limit:
                    return False
                await self._start_at(after_seq)  # the others skip what they already have
            elif wanted > self._head + 1 + self._capacity:
                return False  # it would wait for the others to cover the whole gap
            self._readers.add(reader)
            return True

    async def leave(self, reader: FeedReader) -> None:
        self._readers.discard(reader)
        self._moved.set()
        if not self._readers:
            async with self._pulling:
                if not self._readers and self._running:
                    self._running = False
                    await self._pull.stop()
                    self._clear(self._floor)

    def can_rejoin(self, next_seq: int) -> bool:
        return self._running and not self._restart and bool(self._readers) and \
            self._floor <= next_seq <= self._head + 1

    def rejoin(self, reader: FeedReader) -> None:
        self._readers.add(reader)

    async def delete(self) -> None:
        """Removes the shared consumer once nobody reads from it (a rebuild's, after its switch)."""
        async with self._pulling:
            if not self._readers:
                self._running = False
                await self._pull.delete()
                self._clear(self._floor)

    # ---- reading ----

    def has(self, next_seq: int) -> bool:
        return self._head >= next_seq

    def take(self, next_seq: int, limit: int) -> list[Delivery]:
        start = max(bisect.bisect_left(self._seqs, next_seq, lo=self._first), self._first)
        return self._window[start:start + limit]

    async def fill(self, reader: FeedReader, max_wait: float) -> None:
        """Pulls the next batch into the window (one reader pulls at a time; the others find it grown), unless the
        window is full, in which case it waits (at most `max_wait`) for the slowest reader to move on."""
        deadline = time.monotonic() + max_wait
        async with asyncio.timeout(max_wait):
            await self._pulling.acquire()
        try:
            if self.has(reader.next_seq) or reader.dropped:
                return
            while self._full():
                self._drop_stalled()
                if not self._full():
                    break
                self._moved.clear()
                try:
                    async with asyncio.timeout(deadline - time.monotonic()):
                        await self._moved.wait()
                except TimeoutError:
                    reader.held_back = True  # the others' pace, not the stream's end
                    return
                if self.has(reader.next_seq) or reader.dropped:
                    return
            if self._restart:
                await self._start_at(self._head, keep=True)
            # Not under a timeout: cancelled after taking from the consumer's buffer, those deliveries would be
            # lost to every reader. A cancellation from outside (shutdown) restarts the consumer instead.
            taken = await self._pull.next_batch(max_wait=max(deadline - time.monotonic(), 0.0))
            self._append(taken)
        except FeedGap:
            self._restart = True
        except BaseException:
            self._restart = True
            raise
        finally:
            self._pulling.release()

    def moved(self) -> None:
        """A reader took deliveries: forget what every reader has, and wake a puller waiting for room."""
        if self._readers:
            low = min(r.next_seq for r in self._readers)
            drop = bisect.bisect_left(self._seqs, low, lo=self._first)
            if drop > self._first:
                self._floor = self._seqs[drop - 1] + 1
                self._first = drop
                if self._first > len(self._window) // 2:
                    del self._window[:self._first], self._seqs[:self._first]
                    self._first = 0
        self._moved.set()

    # ---- inside ----

    @property
    def _head(self) -> int:
        """The last sequence in the window (or just below the floor when it is empty)."""
        return self._seqs[-1] if len(self._seqs) > self._first else self._floor - 1

    def _full(self) -> bool:
        return bool(self._readers) and self._head - min(r.next_seq for r in self._readers) + 1 >= self._capacity

    def _drop_stalled(self) -> None:
        now = time.monotonic()
        slowest = min(self._readers, key=lambda r: r.next_seq)
        if now - slowest.taken_at > self._stall_s:
            slowest.dropped = True
            self._readers.discard(slowest)

    def _append(self, taken: list[Delivery]) -> None:
        for delivery in taken:
            if delivery.seq > self._head:
                self._window.append(delivery)
                self._seqs.append(delivery.seq)
        self.delivered += len(taken)

    async def _start_at(self, after_seq: int, *, keep: bool = False) -> None:
        """(Re)starts the shared consumer after `after_seq`. `keep`: the window stays (a restart after a lost
        delivery goes on where it ends); otherwise it starts empty at that point."""
        self._running, self._restart = False, True
        await self._pull.start(after_seq)
        if not keep:
            self._clear(after_seq + 1)
        self._running, self._restart = True, False

    def _clear(self, floor: int) -> None:
        self._window, self._seqs, self._first, self._floor = [], [], 0, floor


class FeedReader:
    """What a projection runner reads through: the shared window when it is near the others, its own consumer
    when it is not. The same calls as `PullFeed`."""

    def __init__(self, shared: SharedFeed, private: PullFeed) -> None:
        self._shared = shared
        self._private = private
        self._alone = False
        self._joined = False
        self.next_seq = 1
        self.taken_at = time.monotonic()
        self.dropped = False
        self.held_back = False  # the last empty batch was the others' pace, not the stream's end

    @property
    def durable(self) -> str:
        return self._private.durable if self._alone else self._shared.durable

    @property
    def alone(self) -> bool:
        return self._alone

    async def start(self, after_seq: int) -> None:
        await self.stop()
        self.next_seq, self.taken_at, self.dropped, self.held_back = after_seq + 1, time.monotonic(), False, False
        if await self._shared.join(self, after_seq):
            self._joined = True
        else:
            self._alone = True
            await self._private.start(after_seq)

    async def stop(self) -> None:
        if self._alone:
            await self._private.stop()
            self._alone = False
        if self._joined:
            self._joined = False
            await self._shared.leave(self)

    async def delete(self) -> None:
        await self.stop()
        await self._private.delete()
        await self._shared.delete()

    async def next_batch(self, max_wait: float, limit: int | None = None) -> list[Delivery]:
        if self._alone:
            return await self._next_alone(max_wait, limit)
        if self.dropped:
            raise self._fell_behind()
        self.held_back = False
        deadline = time.monotonic() + max_wait
        while not self._shared.has(self.next_seq):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.held_back:
                return []
            try:
                await self._shared.fill(self, remaining)
            except TimeoutError:  # waiting for another reader's pull
                return []
            if self.dropped:
                raise self._fell_behind()
        taken = self._shared.take(self.next_seq, limit or self._private.batch)
        if taken:
            self.next_seq, self.taken_at = taken[-1].seq + 1, time.monotonic()
            self._shared.moved()
        return taken

    async def _next_alone(self, max_wait: float, limit: int | None) -> list[Delivery]:
        taken = await self._private.next_batch(max_wait, limit)
        if taken:
            self.next_seq = taken[-1].seq + 1
            if self._shared.can_rejoin(self.next_seq):  # caught up with the others: read with them again
                await self._private.stop()
                self._alone, self._joined, self.taken_at = False, True, time.monotonic()
                self._shared.rejoin(self)
        return taken

    def _fell_behind(self) -> FeedGap:
        return FeedGap(f"consumer {self._shared.durable}: this reader stalled while the others waited on it")
