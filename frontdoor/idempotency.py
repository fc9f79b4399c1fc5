"""Idempotency-Key (DESIGN §6): a retried request returns the first response and writes nothing.

The first response is kept for a day in the KV bucket IDEMPOTENCY, keyed by who asked, the route and the key;
the same key with a different body is refused. If the process dies between writing the events and keeping
the response, the retry still writes nothing: the key also fixes the event ids and the new thing's id, and
the command handler recognises events it has already written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: dict[str, Any]


class IdempotencyKeys:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def slot(sub: str, route: str, key: str) -> str:
        return hashlib.sha256(f"{sub}\x1f{route}\x1f{key}".encode()).hexdigest()

    @staticmethod
    def fingerprint(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    async def find(self, slot: str) -> StoredResponse | None:
        try:
            entry = await self._kv.get(slot)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        data = orjson.loads(entry.value)
        return StoredResponse(data["fingerprint"], int(data["status"]), data["body"])

    async def keep(self, slot: str, response: StoredResponse) -> None:
        await self._kv.put(slot, orjson.dumps(
            {"fingerprint": response.fingerprint, "status": response.status, "body": response.body}))
