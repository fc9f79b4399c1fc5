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
from frontdoor.resident_states import ResidentStates
from frontdoor.settings import Settings
from frontdoor.teams import TeamDirectory
from projections.queries import checkpoint
from projections.runner import ProjectionRunner

if TYPE_CHECKING:
    from faststream.nats import NatsBroker

POLL_S = 0.05


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

    async def wait_for(self, projection: str, seq: int) -> tuple[bool, int]:
        """Read-your-writes: waits (bounded) until `projection` has applied `seq`; returns (ok, applied)."""
        runner = self.runners.get(projection)
        if runner is not None and runner.leading:
            ok = await runner.wait_for(seq, self.settings.read_wait_s)
            return ok, runner.status.applied_seq
        # Another process applies it (or this one is a standby): poll its checkpoint row.
        deadline = asyncio.get_running_loop().time() + self.settings.read_wait_s
        while True:
            async with self.engine.connect() as conn:
                applied = await checkpoint(conn, projection)
            if applied >= seq:
                return True, applied
            if asyncio.get_running_loop().time() >= deadline:
                return False, applied
            await asyncio.sleep(POLL_S)
