"""The event store on JetStream (DESIGN §3).

- `append`: per-resident optimistic concurrency with `Nats-Expected-Last-Subject-Sequence` on the resident's
  literal subject; several events of one command go as one atomic batch (ADR-50), all or nothing;
  `Nats-Msg-Id` makes a retry harmless.
- `read_resident`: batched direct get on the literal subject (one round trip, then one message per event).
- `read_all`: everything from a sequence, for replays.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from events.codec import decode, encode
from events.envelope import Envelope, RecordedEvent
from events.errors import AppendRejected, ConcurrencyConflict, StoreUnavailable
from events.ids import uuid7
from events.ports import AppendResult
from events.subjects import CARE_STREAM, CARE_SUBJECTS, resident_subject

EXPECTED_SEQ = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = 10071
BATCH_DUPLICATE_MSG_ID = 10201
BATCH_INCOMPLETE = 10176
# The server commits at most 1,000 messages a batch and keeps at most 50 batches in flight per stream
# (nats-server PR #7090). Past 50 it abandons batches, answering "atomic publish batch is incomplete" (10176):
# seen here with 2,000 concurrent registrations. So one process keeps well under it, and a batch refused whole
# for that reason is sent again (same ids, same expected sequence: safe, as it was all-or-nothing).
MAX_BATCH = 1000
MAX_BATCHES_IN_FLIGHT = 32
BATCH_ATTEMPTS = 5
DIRECT_GET_BATCH = 1000
_LAST_SEQ = re.compile(r"wrong last sequence: (\d+)")


class JetStreamEventStore:
    def __init__(self, nc: NATS, js: JetStreamContext, *, stream: str = CARE_STREAM, timeout: float = 5.0):
        self._nc = nc
        self._js = js
        self._stream = stream
        self._timeout = timeout
        self._batch_slots = asyncio.Semaphore(MAX_BATCHES_IN_FLIGHT)

    async def append(
        self, resident_id: str, envelopes: Sequence[Envelope], *, expected_seq: int
    ) -> AppendResult:
        if not envelopes:
            raise ValueError("nothing to append")
        if len(envelopes) > MAX_BATCH:
            raise ValueError(f"a command may write at most {MAX_BATCH} events")
        subject = resident_subject(resident_id)
        if len(envelopes) == 1:
            payload, headers = encode(envelopes[0])
            headers[EXPECTED_SEQ] = str(expected_seq)
            reply = await self._request(subject, payload, headers)
            return self._result(resident_id, expected_seq, reply)
        for attempt in range(BATCH_ATTEMPTS):
            async with self._batch_slots:
                reply = await self._append_batch(subject, envelopes, expected_seq)
            error = reply.get("error")
            if not (isinstance(error, dict) and error.get("err_code") == BATCH_INCOMPLETE):
                return self._result(resident_id, expected_seq, reply)
            await asyncio.sleep(0.01 * 2**attempt)
        raise StoreUnavailable(f"{subject}: the server kept abandoning the batch (too many batches in flight)")

    async def _append_batch(
        self, subject: str, envelopes: Sequence[Envelope], expected_seq: int
    ) -> dict[str, object]:
        # nats-py's js.publish raises on the non-commit messages of a batch (nats.py #811): they go as core
        # publishes and only the commit is a request. The expected sequence rides on the first message.
        batch_id = uuid7()
        last = len(envelopes)
        for position, envelope in enumerate(envelopes, start=1):
            payload, headers = encode(envelope)
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(position)
            if position == 1:
                headers[EXPECTED_SEQ] = str(expected_seq)
            if position == last:
                headers["Nats-Batch-Commit"] = "1"
                return await self._request(subject, payload, headers)
            await self._nc.publish(subject, payload, headers=headers)
        raise AssertionError("unreachable")

    async def _request(self, subject: str, payload: bytes, headers: dict[str, str]) -> dict[str, object]:
        try:
            msg = await self._nc.request(subject, payload, timeout=self._timeout, headers=headers)
        except (TimeoutError, NatsTimeout) as exc:
            raise StoreUnavailable(f"no answer from JetStream on {subject} within {self._timeout}s") from exc
        except NoRespondersError as exc:
            raise StoreUnavailable(f"no JetStream stream is listening on {subject}") from exc
        reply: dict[str, object] = orjson.loads(msg.data)
        return reply

    @staticmethod
    def _result(resident_id: str, expected_seq: int, reply: dict[str, object]) -> AppendResult:
        error = reply.get("error")
        if isinstance(error, dict):
            code = int(error.get("err_code", 0))
            description = str(error.get("description", ""))
            if code == WRONG_LAST_SEQUENCE:
                raise ConcurrencyConflict(resident_id, expected_seq, description)
            if code == BATCH_DUPLICATE_MSG_ID:
                # A retried batch: every event in it is already in the stream. That is success.
                return AppendResult(seq=0, duplicate=True)
            if code == 503 or int(error.get("code", 0)) == 503:
                raise StoreUnavailable(description)
            raise AppendRejected(code, description)
        return AppendResult(seq=int(str(reply["seq"])), duplicate=bool(reply.get("duplicate", False)))

    async def read_resident(self, resident_id: str, *, after_seq: int = 0) -> list[RecordedEvent]:
        subject = resident_subject(resident_id)
        events: list[RecordedEvent] = []
        start = after_seq + 1
        while True:
            batch, more = await self._direct_get_batch(subject, start)
            events.extend(batch)
            if not more or not batch:
                return events
            start = batch[-1].seq + 1

    async def _direct_get_batch(self, subject: str, start: int) -> tuple[list[RecordedEvent], bool]:
        """One batched direct get (ADR-31). Returns the events and whether more are pending."""
        inbox = self._nc.new_inbox()
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        raw: list[tuple[int, bytes]] = []

        async def collect(msg: Msg) -> None:
            headers = msg.headers or {}
            status = headers.get("Status")
            if status is None:
                raw.append((int(headers["Nats-Sequence"]), msg.data))
                return
            if not done.done():
                if status == "204":  # end of batch
                    done.set_result(int(headers.get("Nats-Num-Pending", "0")) > 0)
                elif status == "404":  # nothing on this subject from `start`
                    done.set_result(False)
                else:
                    done.set_exception(StoreUnavailable(f"direct get on {subject}: status {status}"))

        sub = await self._nc.subscribe(inbox, cb=collect)
        try:
            request = {"seq": start, "next_by_subj": subject, "batch": DIRECT_GET_BATCH}
            await self._nc.publish(f"$JS.API.DIRECT.GET.{self._stream}", orjson.dumps(request), reply=inbox)
            try:
                more = await asyncio.wait_for(done, self._timeout)
            except TimeoutError as exc:
                raise StoreUnavailable(f"direct get on {subject} timed out") from exc
        finally:
            await sub.unsubscribe()
        return [decode(seq, data) for seq, data in raw], more

    async def read_all(self, *, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[RecordedEvent]:
        """Every event from `from_seq` to `to_seq` (default: the last one when the read starts), in order."""
        end = to_seq if to_seq is not None else await self.last_seq()
        if end < from_seq:
            return
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=from_seq)
        sub = await self._js.subscribe(CARE_SUBJECTS, stream=self._stream, ordered_consumer=True, config=config)
        try:
            while True:
                msg = await sub.next_msg(timeout=self._timeout)
                seq = msg.metadata.sequence.stream
                if seq > end:
                    return
                yield decode(seq, msg.data)
                if seq >= end:
                    return
        finally:
            await sub.unsubscribe()

    async def last_seq(self) -> int:
        info = await self._js.stream_info(self._stream)
        return int(info.state.last_seq)

    async def count(self) -> int:
        info = await self._js.stream_info(self._stream)
        return int(info.state.messages)

