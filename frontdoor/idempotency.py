"""Idempotency-Key (DESIGN §6): a retried request returns the first response and writes nothing.

The first response is kept for a day in the KV bucket IDEMPOTENCY, keyed by who asked and the key, with a digest
of the request it answered (method, path, body): the same key with another request, on any route, is refused.
If the process dies between writing the events and keeping
the response, the retry still writes nothing: the key also fixes the event ids and the new thing's id, and
the command handler recognises events it has already written.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import nats.errors
import orjson
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from events.errors import StoreUnavailable

log = logging.getLogger("frontdoor.idempotency")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: dict[str, Any]


class IdempotencyKeys:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def slot(sub: str, key: str) -> str:
        return hashlib.sha256(f"{sub}\x1f{key}".encode()).hexdigest()

    @staticmethod
    def fingerprint(*parts: bytes) -> str:
        digest = hashlib.sha256()
        for part in parts:
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()

    async def find(self, slot: str) -> StoredResponse | None:
        try:
            entry = await self._kv.get(slot)
        except KeyNotFoundError:
            return None
        except (NatsError, TimeoutError) as exc:
            raise StoreUnavailable(f"the idempotency store did not answer ({type(exc).__name__})") from exc
        if entry.value is None:
            return None
        data = orjson.loads(entry.value)
        return StoredResponse(data["fingerprint"], int(data["status"]), data["body"])

    async def keep(self, slot: str, response: StoredResponse) -> None:
        """Best effort: the events are written by now, so failing here must not turn a success into a 500 (the
        drills saw that while a bucket's leader was killed). A retry is still recognised by the event ids."""
        try:
            await self._kv.put(slot, orjson.dumps(
                {"fingerprint": response.fingerprint, "status": response.status, "body": response.body}))
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not keep the response for an Idempotency-Key (%s); a retry is still recognised "
                        "by its event ids", exc)
