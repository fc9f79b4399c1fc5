"""The flags read model: every DuplicationFlagged and DuplicationResolved, for GET /flags."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import DuplicationFlagged, DuplicationResolved
from events.envelope import RecordedEvent
from projections.tables import flags
from projections.upsert import upsert


class FlagsProjection:
    name = "flags"
    tables: Sequence[Table] = (flags,)
    handles: frozenset[str] | None = frozenset({"DuplicationFlagged", "DuplicationResolved"})

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        for recorded in batch:
            event, at = recorded.event, recorded.envelope.occurred_at.isoformat().replace("+00:00", "Z")
            if isinstance(event, DuplicationFlagged):
                await upsert(conn, flags, [{
                    "flag_id": event.flag_id, "resident_id": recorded.resident_id, "rule": event.rule,
                    "severity": event.severity, "refs": orjson.dumps(event.references).decode(),
                    "explanation": event.explanation, "status": "open", "raised_at": at,
                    "raised_seq": recorded.seq, "resolution": None, "resolved_by": None, "resolved_at": None,
                }], key=["flag_id"])
            elif isinstance(event, DuplicationResolved):
                await conn.execute(update(flags).where(flags.c.flag_id == event.flag_id).values(
                    status="resolved", resolution=event.resolution, resolved_by=event.by, resolved_at=at))
