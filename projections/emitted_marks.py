"""How far a projection that emits (the duplicate detector) has emitted, kept in NATS beside the stream it reads.

The detector's "emitted up to" mark is also kept in its read-model database, and a database is exactly what a
rebuild from zero starts without: the detector then decided every flag of the city's history again, each refused
by the store as the same flag, and kept the command path's states up to date with every event for it (a fifth of
the detector's time in a 20,000-resident rebuild, py-spy, 2026-12-01). Kept in the KV bucket PROJECTION_MARKS, the
mark outlives any database. It is written once the flags of a batch are in the stream, so it is never ahead of what
was emitted; a mark behind (a failed or throttled write) only means deciding some flags again, which the store
refuses. It names the stream's creation time: a mark for a stream since deleted and made again (a restore into a
fresh server, a test) is not trusted.
"""

from __future__ import annotations

import contextlib
import logging
import time

import orjson
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from events.subjects import MARKS_BUCKET

log = logging.getLogger("frontdoor.projections")
SAVE_EVERY_S = 1.0  # a live detector moves its mark every batch; once a second is enough for a restart


class EmittedMarks:
    def __init__(self, js: JetStreamContext, stream: str, *, save_every_s: float = SAVE_EVERY_S) -> None:
        self._js = js
        self._stream = stream
        self._every = save_every_s
        self._kv: KeyValue | None = None
        self._created: str | None = None
        self._saved_at: dict[str, float] = {}

    async def load(self, name: str) -> int:
        """The mark as stored for this very stream; 0 if none (or NATS does not answer: deciding again is safe)."""
        try:
            kv, created = await self._bucket()
            entry = await kv.get(name)
        except (KeyNotFoundError, NotFoundError):
            return 0
        except Exception as exc:
            log.warning("emitted mark %s not read (%s: %s): deciding from the database's mark", name,
                        type(exc).__name__, exc)
            return 0
        with contextlib.suppress(ValueError, TypeError, KeyError):
            stored = orjson.loads(entry.value or b"")
            if stored["stream_created"] == created:
                return int(stored["seq"])
        return 0

    async def save(self, name: str, seq: int) -> None:
        """Stores `seq` (everything up to it emitted), at most every `save_every_s`; never fails the caller."""
        now = time.monotonic()
        if now - self._saved_at.get(name, float("-inf")) < self._every:
            return
        self._saved_at[name] = now
        try:
            kv, created = await self._bucket()
            await kv.put(name, orjson.dumps({"seq": seq, "stream_created": created}))
        except Exception as exc:
            log.warning("emitted mark %s not saved (%s: %s)", name, type(exc).__name__, exc)

    async def _bucket(self) -> tuple[KeyValue, str]:
        if self._kv is None or self._created is None:
            info = await self._js.stream_info(self._stream)
            self._created = info.created.isoformat() if info.created else ""
            self._kv = await self._js.key_value(MARKS_BUCKET)
        return self._kv, self._created
