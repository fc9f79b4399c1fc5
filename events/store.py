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
from pydantic import ValidationError

from events.catalogue import EventSuperseded
from events.codec import UnknownEventType, decode, encode
from events.envelope import Envelope, RecordedEvent
from events.errors import AppendRejected, ConcurrencyConflict, StoreUnavailable, UnreadableEvent
from events.ids import uuid7
from events.ports import AppendResult
from events.subjects import CARE_STREAM, CARE_SUBJECTS, resident_subject

EXPECTED_SEQ = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = 10071
# A clustered stream's answer when another write to the same subject is still being agreed on (nats-server
# checkMsgHeadersPreClustered): the same conflict as 10071, without the sequence. Seen as a 500 in the failover
# benchmark (a retry while the first attempt's write was in flight), and between any two writers of one resident.
WRONG_LAST_SEQUENCE_IN_FLIGHT = 10164
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


def previous_seq(headers: dict[str, str] | None) -> int | None:
    """The resident's previous sequence as the append that wrote a message stated it (its expected last subject
    sequence, which JetStream keeps with the message); None where it did not say."""
    stated = (headers or {}).get(EXPECTED_SEQ, "")
    return int(stated) if stated.isdigit() else None


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
        return await self.append_many([(resident_id, envelopes, expected_seq)])

    async def append_many(self, parts: Sequence[tuple[str, Sequence[Envelope], int]]) -> AppendResult:
        """Appends events to one or more residents' subjects, all or nothing, each resident's part checked
        against its own expected last sequence (verified on 2.15.1: a stale part refuses the whole batch)."""
        parts = [part for part in parts if part[1]]
        messages = [(resident_subject(rid), envelope, expected if i == 0 else None)
                    for rid, envelopes, expected in parts for i, envelope in enumerate(envelopes)]
        if not messages:
            raise ValueError("nothing to append")
        if len(messages) > MAX_BATCH:
            raise ValueError(f"a command may write at most {MAX_BATCH} events")
        who = ", ".join(rid for rid, _, _ in parts)
        expected_seq = parts[0][2]
        if len(messages) == 1:
            subject, envelope, _ = messages[0]
            payload, headers = encode(envelope)
            headers[EXPECTED_SEQ] = str(expected_seq)
            reply = await self._request(subject, payload, headers)
            return self._result(who, expected_seq, reply)
        for attempt in range(BATCH_ATTEMPTS):
            async with self._batch_slots:
                reply = await self._append_batch(messages)
            error = reply.get("error")
            if not (isinstance(error, dict) and error.get("err_code") == BATCH_INCOMPLETE):
                return self._result(who, expected_seq, reply)
            await asyncio.sleep(0.01 * 2**attempt)
        raise StoreUnavailable(f"{who}: the server kept abandoning the batch (too many batches in flight)")

    async def _append_batch(self, messages: Sequence[tuple[str, Envelope, int | None]]) -> dict[str, object]:
        # nats-py's js.publish raises on the non-commit messages of a batch (nats.py #811): they go as core
        # publishes and only the commit is a request. Each subject's expected sequence rides on its first message.
        batch_id = uuid7()
        last = len(messages)
        for position, (subject, envelope, expected) in enumerate(messages, start=1):
            payload, headers = encode(envelope)
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(position)
            if expected is not None:
                headers[EXPECTED_SEQ] = str(expected)
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
            if code in (WRONG_LAST_SEQUENCE, WRONG_LAST_SEQUENCE_IN_FLIGHT):
                actual = _LAST_SEQ.search(description)
                raise ConcurrencyConflict(resident_id, expected_seq, description,
                                          int(actual.group(1)) if actual else None)
            if code == BATCH_DUPLICATE_MSG_ID:
                # A retried batch: every event in it is already in the stream. That is success.
                return AppendResult(seq=0, duplicate=True)
            if code == 503 or int(error.get("code", 0)) == 503:
                raise StoreUnavailable(description)
            raise AppendRejected(code, description)
        return AppendResult(seq=int(str(reply["seq"])), duplicate=bool(reply.get("duplicate", False)))

    async def read_resident(self, resident_id: str, *, after_seq: int = 0) -> list[RecordedEvent]:
        """The resident's events in order. A message that cannot be read raises `UnreadableEvent` naming its
        sequence, unless a later `EventSuperseded` on the same subject names it; superseded sequences are left
        out whether they could be read or not."""
        subject = resident_subject(resident_id)
        raw: list[tuple[int, bytes]] = []
        start = after_seq + 1
        while True:
            batch, more = await self._direct_get_batch(subject, start)
            raw.extend(batch)
            if not more or not batch:
                break
            start = batch[-1][0] + 1
        events: list[RecordedEvent] = []
        unreadable: dict[int, str] = {}
        for seq, data in raw:
            try:
                events.append(decode(seq, data))
            except (ValueError, ValidationError, UnknownEventType) as exc:
                unreadable[seq] = str(exc).splitlines()[0][:200]
        superseded = {e.event.sequence for e in events if isinstance(e.event, EventSuperseded)}
        for seq in sorted(set(unreadable) - superseded):
            raise UnreadableEvent(resident_id, seq, unreadable[seq])
        if superseded:
            events = [e for e in events if e.seq not in superseded]
        return events

    async def last_subject_seq(self, resident_id: str) -> int:
        """The sequence of the resident's last message (0 for none): one direct get. Confirms a decision taken
        on a cached state before it is answered without writing."""
        subject = resident_subject(resident_id)
        try:
            msg = await self._nc.request(f"$JS.API.DIRECT.GET.{self._stream}",
                                         orjson.dumps({"last_by_subj": subject}), timeout=self._timeout)
        except (TimeoutError, NatsTimeout) as exc:
            raise StoreUnavailable(f"direct get of the last message on {subject} timed out") from exc
        except NoRespondersError as exc:
            raise StoreUnavailable(f"no JetStream stream answers direct gets for {subject}") from exc
        headers = msg.headers or {}
        if headers.get("Status") == "404":
            return 0
        if "Nats-Sequence" not in headers:
            raise StoreUnavailable(f"direct get on {subject}: status {headers.get('Status')}")
        return int(headers["Nats-Sequence"])

    async def recorded(self, resident_id: str, seq: int) -> RecordedEvent | None:
        """The resident's event at stream sequence `seq`, with the sequence it follows: one direct get by
        sequence, which the server answers from its index, where reading a subject from a sequence on scans the
        stream for it. None if `seq` is not on the resident's subject or cannot be read here."""
        msg = await self._at(seq)
        headers = msg.headers or {}
        if headers.get("Nats-Subject") != resident_subject(resident_id):
            return None
        try:
            return decode(seq, msg.data, previous_seq(headers))
        except (ValueError, ValidationError, UnknownEventType):
            return None

    async def message(self, seq: int) -> tuple[str, bytes] | None:
        """The raw message at a stream sequence (subject, payload), for an operator's look at a bad event."""
        msg = await self._at(seq)
        headers = msg.headers or {}
        if "Nats-Subject" not in headers:
            return None
        return headers["Nats-Subject"], msg.data

    async def _at(self, seq: int) -> Msg:
        """The message at a stream sequence: one direct get, which the server answers from its index."""
        try:
            return await self._nc.request(f"$JS.API.DIRECT.GET.{self._stream}", orjson.dumps({"seq": seq}),
                                          timeout=self._timeout)
        except (TimeoutError, NatsTimeout, NoRespondersError) as exc:
            raise StoreUnavailable(f"direct get of sequence {seq} failed ({exc})") from exc

    async def _direct_get_batch(self, subject: str, start: int) -> tuple[list[tuple[int, bytes]], bool]:
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
        return raw, more

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

