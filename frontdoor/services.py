"""Everything a request or a worker needs, built once by the composition root (`bootstrap`) and handed in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from events.claims import NhsNumberClaims
from events.store import JetStreamEventStore
from frontdoor.audit import AuditLog
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.handling import CommandHandler
from frontdoor.idempotency import IdempotencyKeys
from frontdoor.projector import AppliedElsewhere
from frontdoor.resident_states import ResidentStates
from frontdoor.settings import Settings
from frontdoor.teams import TeamDirectory
from projections.queries import checkpoint
from projections.runner import ProjectionRunner

if TYPE_CHECKING:
    from faststream.nats import NatsBroker

# The checkpoint row is read this often while a read waits on a projection in another process: only a fallback,
# as that process announces every advance (frontdoor.projector) and the announcement wakes the read at once.
POLL_S = 0.25


@dataclass
class Services:
    settings: Settings
    nc: NATS
    js: JetStreamContext
    store: JetStreamEventStore
    claims: NhsNumberClaims
    idempotency: IdempotencyKeys
    states: ResidentStates
    handler: CommandHandler
    engine: AsyncEngine
    teams: TeamDirectory
    audit: AuditLog
    jwt_secret: str
    runners: dict[str, ProjectionRunner] = field(default_factory=dict)
    embedded: EmbeddedNats | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    broker: NatsBroker | None = None
    elsewhere: AppliedElsewhere = field(default_factory=AppliedElsewhere)

    async def wait_for(self, projection: str, seq: int) -> tuple[bool, int]:
        """Read-your-writes: waits (bounded) until `projection` has applied `seq`; returns (ok, applied)."""
        runner = self.runners.get(projection)
        if runner is not None and runner.leading:
            ok = await runner.wait_for(seq, self.settings.read_wait_s)
            return ok, runner.status.applied_seq
        # Another process applies it (or this one is a standby): woken by its announcements, and reading its
        # checkpoint row now and then in case one was missed.
        await self.elsewhere.watch(self.nc, projection)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.read_wait_s
        while True:
            async with self.engine.connect() as conn:
                applied = max(await checkpoint(conn, projection), self.elsewhere.seen.get(projection, 0))
            if applied >= seq:
                return True, applied
            if loop.time() >= deadline:
                return False, applied
            if await self.elsewhere.wait(projection, seq, min(POLL_S, max(0.0, deadline - loop.time()))):
                return True, self.elsewhere.seen[projection]
