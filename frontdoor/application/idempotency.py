"""Idempotency-Key, once for every edge: a retry gets the first answer; a key reused for another request is
refused naming the key; the ids of what a request writes are fixed by the key *and* the request, so a key used
again elsewhere can never make a new write look like an old one (issue 9: it answered 201 and wrote nothing).

The answer is kept after the write. If keeping it fails (NATS slow or away) the write has still happened and
is answered as such: a retry is recognised by its event ids in the stream and answered without writing again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from events.ids import derived_id, uuid7
from frontdoor.application.answers import Answer
from frontdoor.application.errors import IdempotencyKeyReused
from frontdoor.application.who import Idempotency, Principal
from frontdoor.idempotency import IdempotencyKeys, StoredResponse

log = logging.getLogger("frontdoor.idempotency")


def new_id(kind: str, who: Principal, idempotency: Idempotency | None) -> str:
    """A fresh time-ordered id, or with an Idempotency-Key the same id every time the same request is retried."""
    return derived_id(kind, who.sub, idempotency.token) if idempotency else uuid7()


async def once(keys: IdempotencyKeys, who: Principal, idempotency: Idempotency | None,
               run: Callable[[], Awaitable[Answer]]) -> Answer:
    if idempotency is None:
        return await run()
    slot = keys.slot(who.sub, idempotency.key)
    stored = await keys.find(slot)
    if stored is not None:
        if stored.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {idempotency.key[:80]!r} was already used for another request; use a new key for "
                "a new request", field="Idempotency-Key")
        return Answer(stored.body, stored.status, replayed=True)
    answer = await run()
    try:
        await keys.keep(slot, StoredResponse(idempotency.fingerprint, answer.status, answer.body))
    except Exception as exc:  # the write has landed; the stream itself recognises a retry
        log.warning("could not keep the answer to Idempotency-Key %r of %s (%s); a retry is still recognised by "
                    "its event ids", idempotency.key[:80], who.sub, exc)
    return answer
