"""The audit log read model: every RecordViewed on the AUDIT stream, one row each, for admins to read."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import RecordViewed
from events.envelope import RecordedEvent
from events.subjects import AUDIT_STREAM
from projections.tables import audit_log
from projections.upsert import upsert


class AuditProjection:
    name = "audit_log"
    stream = AUDIT_STREAM
    tables: Sequence[Table] = (audit_log,)
    handles: frozenset[str] | None = frozenset({"RecordViewed"})

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        rows = [{"seq": r.seq, "resident_id": r.event.resident_id, "viewer": r.event.viewer, "role": r.event.role,
                 "team_id": r.event.team_id, "what": r.event.what, "purpose": r.event.purpose,
                 "at": r.envelope.occurred_at.isoformat().replace("+00:00", "Z")}
                for r in batch if isinstance(r.event, RecordViewed)]
        await upsert(conn, audit_log, rows, key=["seq"])
