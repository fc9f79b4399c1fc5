"""NHS-number uniqueness (DESIGN §3): a claim in the KV bucket NHS_NUMBERS before the registration is appended.

A claim whose registration never landed (a crash between the two writes) belongs to nobody in the stream;
it is taken over when a registration for the same number comes again, and reported by `frontdoor check`. A claim
records when it was made: one whose registration is still in flight also has an empty stream, so a claim is only
taken over once it is older than any registration can take to land (issue 9: under concurrency, taking over
young claims registered one number to two and three residents). The takeover is a compare-and-set on the claim's
revision, so of several processes that find the same orphan only one takes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from events.subjects import NHS_NUMBERS_BUCKET


@dataclass(frozen=True, slots=True)
class Claim:
    number: str
    resident_id: str
    revision: int
    claimed_at: float = 0.0  # epoch seconds; 0 for a claim written before claims said when
    created: bool = False  # made (or taken over) by the call that returned it

    def age_s(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.claimed_at


def _value(resident_id: str) -> bytes:
    return orjson.dumps({"resident_id": resident_id, "claimed_at": round(time.time(), 3)})


def _parse(number: str, value: bytes, revision: int, *, created: bool = False) -> Claim:
    if value.startswith(b"{"):
        data = orjson.loads(value)
        return Claim(number, str(data["resident_id"]), revision, float(data.get("claimed_at", 0)), created)
    return Claim(number, value.decode(), revision)  # the first release stored the resident id alone


class NhsNumberClaims:
    def __init__(self, js: JetStreamContext, kv: KeyValue) -> None:
        self._js = js
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> NhsNumberClaims:
        return cls(js, await js.key_value(NHS_NUMBERS_BUCKET))

    async def owner(self, number: str) -> Claim | None:
        try:
            entry = await self._kv.get(number)
        except KeyNotFoundError:  # also covers a deleted claim (KeyDeletedError is a subclass)
            return None
        if entry.value is None or entry.revision is None:
            return None
        return _parse(number, entry.value, entry.revision)

    async def claim(self, number: str, resident_id: str) -> Claim:
        """Claims `number` for `resident_id`, or returns the claim that already holds it.

        nats-py's `create` already handles a deleted key ("wrong last sequence" on a tombstone, #5162)
        by updating at the tombstone's revision.
        """
        try:
            value = _value(resident_id)
            revision = await self._kv.create(number, value)
            return _parse(number, value, revision, created=True)
        except KeyWrongLastSequenceError:
            existing = await self.owner(number)
            if existing is None:  # deleted between our two calls: try once more
                value = _value(resident_id)
                revision = await self._kv.create(number, value)
                return _parse(number, value, revision, created=True)
            return existing

    async def take_over(self, claim: Claim, resident_id: str) -> Claim | None:
        """Moves an orphaned claim to `resident_id`, unless someone else moved it first."""
        value = _value(resident_id)
        try:
            revision = await self._kv.update(claim.number, value, last=claim.revision)
        except KeyWrongLastSequenceError:
            return None
        return _parse(claim.number, value, revision, created=True)

    async def numbers(self) -> list[str]:
        """Every number with a live claim. Not `KeyValue.keys()`: its watcher can report "no keys" when the
        first claims reach its callback after it has asked how many are pending (CI saw 0 of 2 under load). An
        ephemeral pull consumer of each number's last entry, read until nothing is pending, has no such race."""
        js, prefix = self._js, f"$KV.{NHS_NUMBERS_BUCKET}."
        config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, ack_policy=AckPolicy.NONE,
                                headers_only=True, inactive_threshold=30.0)
        sub = await js.pull_subscribe(f"{prefix}>", stream=f"KV_{NHS_NUMBERS_BUCKET}", config=config)
        numbers: list[str] = []
        try:
            pending = (await sub.consumer_info()).num_pending
            while pending:
                for msg in await sub.fetch(batch=min(pending, 1_000), timeout=5):
                    pending = msg.metadata.num_pending
                    if (msg.headers or {}).get(KV_OP) not in (KV_DEL, KV_PURGE):
                        numbers.append(msg.subject[len(prefix):])
        finally:
            await sub.unsubscribe()
        return numbers

    async def release(self, number: str, resident_id: str) -> None:
        """Frees a number after a correction moved the resident to another one."""
        existing = await self.owner(number)
        if existing is not None and existing.resident_id == resident_id:
            await self._kv.delete(number, last=existing.revision)
