"""Reading CARE from one sequence to another as fast as one nats-py connection can, with each message's stream
time (the JetStream timestamp, which the server stamps in sequence order).

An ephemeral pull consumer without acks; two pull requests are kept in flight so the server never waits for
the client to ask. Each message's stream sequence and timestamp come from its reply subject, so no header is
parsed. Pull replies travel over core NATS: a gap in the consumer sequence means one was lost, and the read
fails rather than skip an event (the replay then resumes from its checkpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.subjects import CARE_STREAM

PULL = 2_000
WAIT_S = 30.0


class LostDelivery(Exception):
    pass


async def stream_time_cut(js: JetStreamContext, until: datetime, last_seq: int, *, stream: str = CARE_STREAM) -> int:
    """The last sequence recorded at or before `until` (0 if none): a binary search over message timestamps."""
    low, high = 0, last_seq  # invariant: seq `low` is at or before `until` (0 stands for "none")
    while low < high:
        middle = (low + high + 1) // 2
        message = await js.get_msg(stream, middle)
        assert message.time is not None
        if message.time <= until:
            low = middle
        else:
            high = middle - 1
    return low


async def read_range(nc: NATS, js: JetStreamContext, first: int, last: int, *,
                     stream: str = CARE_STREAM) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Batches of (stream sequence, payload) from `first` to `last`, in order."""
    if last < first:
        return
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                            opt_start_seq=first, inactive_threshold=60.0, mem_storage=True, max_waiting=8)
    info = await js.add_consumer(stream, config)
    name = info.name
    buffer: list[tuple[int, bytes]] = []
    arrived = asyncio.Event()
    state = {"cseq": 0, "gap": False, "outstanding": 0}
    inbox = nc.new_inbox()

    async def pull() -> None:
        state["outstanding"] += PULL
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}", orjson.dumps({"batch": PULL}), reply=inbox)

    async def on_message(msg: Msg) -> None:
        if not msg.data and msg.headers and msg.headers.get("Status"):
            return
        tokens = msg.reply.split(".")
        # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or the v2 form with 12 tokens.
        offset = 1 if len(tokens) > 9 else 0
        sseq, cseq = int(tokens[-4 - offset]), int(tokens[-3 - offset])
        if cseq != state["cseq"] + 1:
            state["gap"] = True
        state["cseq"] = cseq
        buffer.append((sseq, msg.data))
        state["outstanding"] -= 1
        if state["outstanding"] <= PULL and sseq + state["outstanding"] < last:
            await pull()
        arrived.set()

    sub = await nc.subscribe(inbox, cb=on_message, pending_msgs_limit=4 * PULL)
    try:
        await pull()
        await pull()
        done = first - 1
        while done < last:
            if not buffer:
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), WAIT_S)
                except TimeoutError as exc:
                    raise LostDelivery(f"no message from {stream} after sequence {done} for {WAIT_S:g} s") from exc
            if state["gap"]:
                raise LostDelivery(f"a delivery from {stream} was lost after sequence {done}")
            batch = buffer[:]
            buffer.clear()
            batch = [m for m in batch if m[0] <= last]
            if batch:
                done = batch[-1][0]
                yield batch
    finally:
        await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, name)
