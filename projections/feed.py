"""A batched feed of the CARE stream from a durable pull consumer, written on the raw JetStream API.

Why not nats-py's `fetch`: it waits to fill a batch before returning (adding latency to read-your-writes) and
`fetch(timeout=None)` is slow (nats.py #791). Here one pull request is kept outstanding, messages are handed
over as soon as they arrive, and the next request goes out when the last is used up: batches form by
themselves under load and single events flow at once when idle.

The consumer has no acks: the projection's checkpoint, written in the same transaction as its rows, is the
only position that counts. Pull replies travel over core NATS, so a reconnect can drop one; the consumer
sequence in each reply subject reveals any gap, and the feed then starts again from the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from events.codec import TYPE_HEADER
from events.store import previous_seq

PULL_EXPIRES_S = 5.0


class FeedGap(Exception):
    """A delivery was lost in transit: start again from the last applied sequence."""


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int  # stream sequence
    pending: int  # messages still after this one for the consumer: 0 means caught up
    data: bytes
    type: str | None = None  # the Frontdoor-Type header: lets a projection skip events it does not handle
    subject: str = ""  # where it is stored (care.<resident>): where an operator's EventSuperseded for it goes
    previous_seq: int | None = None  # the subject's sequence the append expected (its previous event), if it said


class PullFeed:
    held_back = False  # an empty batch here always means the stream's end (a shared reader may wait on others)

    def __init__(self, nc: NATS, js: JetStreamContext, *, stream: str, durable: str, batch: int,
                 prefetch: int | None = None, inactive_threshold_s: float | None = None) -> None:
        self._nc, self._js = nc, js
        self._stream, self._durable, self._batch = stream, durable, batch
        self._inactive_threshold_s = inactive_threshold_s
        # Pulls go on while fewer than this are buffered: the next window arrives while this one is applied.
        self._prefetch = max(prefetch or 0, 2 * batch)
        self._buffer: deque[Delivery] = deque()
        self._arrived = asyncio.Event()
        self._sub: Subscription | None = None
        self._inbox = ""
        self._outstanding = 0
        self._requested_at = 0.0
        self._last_cseq = 0
        self._gap = False

    @property
    def durable(self) -> str:
        return self._durable

    @property
    def batch(self) -> int:
        return self._batch

    async def start(self, after_seq: int) -> None:
        """(Re)creates the durable consumer at `after_seq + 1`: the checkpoint, not the server, says where."""
        await self.stop()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self._stream, self._durable)
        config = ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after_seq + 1,
            max_waiting=4,
            inactive_threshold=self._inactive_threshold_s,
        )
        await self._js.add_consumer(self._stream, config)
        self._buffer.clear()
        self._outstanding, self._last_cseq, self._gap = 0, 0, False
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_message)
        await self._pull()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def delete(self) -> None:
        await self.stop()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self._stream, self._durable)

    async def next_batch(self, max_wait: float, limit: int | None = None) -> list[Delivery]:
        """Up to `batch` (or `limit`) deliveries, as soon as any are there (or none after `max_wait`). A gap is
        raised before anything after it is handed over, so what was taken is always contiguous."""
        if self._gap:
            raise FeedGap(f"consumer {self._durable}: a delivery was lost after consumer seq {self._last_cseq}")
        if not self._buffer:
            self._arrived.clear()
            # Not asyncio.wait_for: on Python 3.11 it returns the result, swallowing the caller's cancellation,
            # when the event is set in the same turn as the task is cancelled; the runner then never stopped.
            # asyncio.timeout lets a cancellation from outside through whatever else happens in that turn.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max_wait):
                    await self._arrived.wait()
        if self._gap:
            raise FeedGap(f"consumer {self._durable}: a delivery was lost after consumer seq {self._last_cseq}")
        taken = [self._buffer.popleft() for _ in range(min(limit or self._batch, len(self._buffer)))]
        await self._maybe_pull()
        return taken

    async def _maybe_pull(self) -> None:
        stale = self._outstanding and time.monotonic() - self._requested_at > PULL_EXPIRES_S + 2
        if stale:
            self._outstanding = 0  # the request was lost (e.g. reconnect): ask again
        if self._outstanding == 0 and len(self._buffer) < self._prefetch:
            await self._pull()

    async def _pull(self) -> None:
        request = {"batch": self._batch, "expires": int(PULL_EXPIRES_S * 1e9)}
        self._outstanding = self._batch
        self._requested_at = time.monotonic()
        await self._nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._durable}", orjson.dumps(request), reply=self._inbox
        )

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers
        if headers and headers.get("Status") and not msg.data:
            # 408 (request expired) or 409 (e.g. consumer deleted): this request is over.
            self._outstanding = 0
            await self._maybe_pull()
            self._arrived.set()
            return
        tokens = msg.reply.split(".")
        # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending> (9 tokens), or the v2 form
        # $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>.<token>.
        sseq, cseq, pending = int(tokens[-4]), int(tokens[-3]), int(tokens[-1])
        if len(tokens) > 9:
            sseq, cseq, pending = int(tokens[-5]), int(tokens[-4]), int(tokens[-2])
        if cseq != self._last_cseq + 1:
            self._gap = True
        self._last_cseq = cseq
        self._buffer.append(Delivery(sseq, pending, msg.data, headers.get(TYPE_HEADER) if headers else None,
                                     msg.subject, previous_seq(headers)))
        self._outstanding -= 1
        if self._outstanding <= 0:
            self._outstanding = 0
            await self._maybe_pull()
        self._arrived.set()
