"""Finding an operator's `EventSuperseded` for a message a projection stopped on.

A projection meets the bad message before the supersession (which is appended later), so it cannot know to skip
it then. Stopped on sequence N, it looks on N's own subject (the resident's) after N for an `EventSuperseded`
naming N: one batched direct get, which any process can make, so it works whichever process projects and
whichever process the operator used. Only messages whose Frontdoor-Type header says `EventSuperseded` are
decoded; other unreadable messages on the way are passed by.
"""

from __future__ import annotations

import asyncio

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from events.catalogue import EventSuperseded
from events.codec import TYPE_HEADER, decode
from events.errors import StoreUnavailable

SUPERSEDED = EventSuperseded.type_name()
BATCH = 1000
ANSWER_WITHIN_S = 5.0


async def find_supersession(nc: NATS, stream: str, subject: str, seq: int) -> tuple[int, str] | None:
    """(the supersession's own sequence, its reason), or None if there is none yet."""
    start = seq + 1
    while True:
        found, last, more = await _scan(nc, stream, subject, start, seq)
        if found is not None or not more or last < start:
            return found
        start = last + 1


async def _scan(nc: NATS, stream: str, subject: str, start: int, seq: int
                ) -> tuple[tuple[int, str] | None, int, bool]:
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    found: list[tuple[int, str]] = []
    last = 0

    async def collect(msg: Msg) -> None:
        nonlocal last
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            last = int(headers.get("Nats-Sequence", "0"))
            if headers.get(TYPE_HEADER) == SUPERSEDED and not found:
                try:
                    event = decode(last, msg.data).event
                except ValueError:  # unreadable itself: it supersedes nothing
                    return
                if isinstance(event, EventSuperseded) and event.sequence == seq:
                    found.append((last, event.reason))
            return
        if not done.done():
            if status == "204":  # end of this batch
                done.set_result(int(headers.get("Nats-Num-Pending", "0")) > 0)
            elif status == "404":  # nothing on the subject from `start`
                done.set_result(False)
            else:
                done.set_exception(StoreUnavailable(f"direct get on {subject}: status {status}"))

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=collect)
    try:
        request = {"seq": start, "next_by_subj": subject, "batch": BATCH}
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", orjson.dumps(request), reply=inbox)
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S):
                more = await done
        except TimeoutError as exc:
            raise StoreUnavailable(f"direct get on {subject} timed out") from exc
    finally:
        await sub.unsubscribe()
    return (found[0] if found else None), last, more
