"""One active consumer per projection (DESIGN §1): a lease in the KV bucket PROJECTION_LEASES.

Several projector processes may run for failover; the one holding `<projection>`'s key applies it, the others
wait. The holder renews the key every third of the bucket's TTL with a compare-and-set on its revision; if it
stops renewing (crash, pause, partition) the server expires the key and a standby creates it. A lease alone
cannot rule out two holders for a moment (a paused holder wakes after expiry), so the checkpoint is also
written compare-and-set (`checkpoints.advance_checkpoint`): the database refuses the second writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from events.ids import uuid7
from events.subjects import LEASES_BUCKET
from projections.cancellation import raise_if_cancelled

log = logging.getLogger("frontdoor.projections")
# Giving the lease back is a courtesy (the TTL frees it anyway): it must not hold up a stop while NATS is away.
RELEASE_WITHIN_S = 1.0


class LeaseLost(Exception):
    pass


class Lease:
    def __init__(self, js: JetStreamContext, name: str, *, ttl_s: float) -> None:
        self._js = js
        self.name = name
        self.holder = uuid7()
        self._ttl = ttl_s
        self._kv: KeyValue | None = None
        self._revision: int | None = None
        self.lost = asyncio.Event()
        self._renewer: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self._revision is not None and not self.lost.is_set()

    async def acquire(self) -> None:
        """Waits until this process holds the lease, then keeps renewing it in the background."""
        self._kv = self._kv or await self._js.key_value(LEASES_BUCKET)
        while True:
            raise_if_cancelled()
            with contextlib.suppress(KeyWrongLastSequenceError):
                self._revision = await self._kv.create(self.name, self.holder.encode())
                raise_if_cancelled()  # cancelled while the create went through: give it back (the caller does)
                break
            await asyncio.sleep(self._ttl / 4)
        self.lost.clear()
        self._renewer = asyncio.create_task(self._renew(), name=f"lease-{self.name}")

    async def _renew(self) -> None:
        assert self._kv is not None
        while True:
            await asyncio.sleep(self._ttl / 3)
            raise_if_cancelled()
            try:
                self._revision = await self._kv.update(self.name, self.holder.encode(), last=self._revision)
            except (KeyWrongLastSequenceError, KeyNotFoundError) as exc:
                log.warning("lease %s lost (%s: %s): another process may take over", self.name,
                            type(exc).__name__, exc)
                self._revision = None
                self.lost.set()
                return
            except Exception as exc:  # NATS briefly unreachable: keep trying until the TTL decides
                log.warning("lease %s not renewed (%s: %s); trying again in %.1fs", self.name,
                            type(exc).__name__, exc, self._ttl / 3)
                continue

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._kv is not None and self._revision is not None:
            try:
                async with asyncio.timeout(RELEASE_WITHIN_S):
                    await self._kv.delete(self.name, last=self._revision)  # a standby can take over at once
            except Exception as exc:
                log.warning("lease %s not given back (%s: %s); it expires by itself", self.name,
                            type(exc).__name__, exc)
        self._revision = None
