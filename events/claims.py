"""NHS-number uniqueness (DESIGN §3): a claim in the KV bucket NHS_NUMBERS before the registration is appended.

A claim whose registration never landed (a crash between the two writes) belongs to nobody in the stream;
it is taken over when a registration for the same number comes again, and reported by `orphans`.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from events.subjects import NHS_NUMBERS_BUCKET


@dataclass(frozen=True, slots=True)
class Claim:
    number: str
    resident_id: str
    revision: int


class NhsNumberClaims:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> NhsNumberClaims:
        return cls(await js.key_value(NHS_NUMBERS_BUCKET))

    async def owner(self, number: str) -> Claim | None:
        try:
            entry = await self._kv.get(number)
        except KeyNotFoundError:  # also covers a deleted claim (KeyDeletedError is a subclass)
            return None
        if entry.value is None or entry.revision is None:
            return None
        return Claim(number, entry.value.decode(), entry.revision)

    async def claim(self, number: str, resident_id: str) -> Claim:
        """Claims `number` for `resident_id`, or returns the claim that already holds it.

        nats-py's `create` already handles a deleted key ("wrong last sequence" on a tombstone, #5162)
        by updating at the tombstone's revision.
        """
        try:
            revision = await self._kv.create(number, resident_id.encode())
            return Claim(number, resident_id, revision)
        except KeyWrongLastSequenceError:
            existing = await self.owner(number)
            if existing is None:  # deleted between our two calls: try once more
                revision = await self._kv.create(number, resident_id.encode())
                return Claim(number, resident_id, revision)
            return existing

    async def take_over(self, claim: Claim, resident_id: str) -> Claim | None:
        """Moves an orphaned claim to `resident_id`, unless someone else moved it first."""
        try:
            revision = await self._kv.update(claim.number, resident_id.encode(), last=claim.revision)
        except KeyWrongLastSequenceError:
            return None
        return Claim(claim.number, resident_id, revision)

    async def numbers(self) -> list[str]:
        try:
            keys: list[str] = await self._kv.keys()
        except NoKeysError:
            return []
        return keys

    async def release(self, number: str, resident_id: str) -> None:
        """Frees a number after a correction moved the resident to another one."""
        existing = await self.owner(number)
        if existing is not None and existing.resident_id == resident_id:
            await self._kv.delete(number, last=existing.revision)
