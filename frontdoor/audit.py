"""Every view of a record is audited (DESIGN §3): a RecordViewed event on the AUDIT stream, acknowledged by
JetStream before the record is returned. If the audit cannot be written, the record is not shown."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

from events.catalogue import Event, RecordViewed
from events.codec import encode, wrap
from events.envelope import Actor
from events.errors import StoreUnavailable
from events.ids import uuid7
from events.subjects import audit_subject
from frontdoor.metrics import AUDIT_FAILURES, AUDIT_WRITES


class AuditLog:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def viewed(self, actor: Actor, *, what: str, resident_id: str | None, purpose: str | None,
                     correlation_id: str) -> None:
        event = RecordViewed(viewer=actor.id, role=actor.role, team_id=actor.team_id, what=what,
                             resident_id=resident_id, purpose=purpose[:200] if purpose else None)
        await self.record(event, actor=actor, resident_id=resident_id or "-", correlation_id=correlation_id)

    async def record(self, event: Event, *, actor: Actor, resident_id: str, correlation_id: str) -> None:
        now = datetime.now(UTC)
        envelope = wrap(event, event_id=uuid7(), resident_id=resident_id, actor=actor, occurred_at=now,
                        correlation_id=correlation_id, recorded_at=now)
        payload, headers = encode(envelope)
        try:
            await self._js.publish(audit_subject(envelope.type), payload, headers=headers, timeout=5)
        except (TimeoutError, JetStreamError) as exc:
            AUDIT_FAILURES.inc()
            raise StoreUnavailable(f"the audit trail cannot be written ({exc}); the record is not shown") from exc
        AUDIT_WRITES.inc()
