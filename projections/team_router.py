"""The team feed router (DESIGN §1, §3): republishes to `team.<team_id>.<EventType>` on the TEAMS stream only what
that team may see: work addressed to it, and updates on residents it is involved with and has consent for.

`Nats-Msg-Id` is `<source seq>:<team>`, so a redelivery is deduplicated by the server; and like the detector, a
rebuild republishes nothing it has already published (a high-water mark kept beside the checkpoint).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from nats.js import JetStreamContext
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import (
    AssessmentStarted,
    CareCoordinatorAssigned,
    ConsentRecorded,
    Event,
    ReferralHandedOff,
    ReferralMade,
)
from events.codec import MSG_ID_HEADER, TYPE_HEADER
from events.envelope import RecordedEvent
from events.subjects import team_subject
from projections.checkpoints import load_checkpoint, save_checkpoint
from projections.consent import may_see
from projections.tables import router_residents
from projections.upsert import upsert

PUBLISHED = "team_router.published"
# Organisation and sector of a team, for consents scoped to them: handed in by the composition root.
TeamInfo = Callable[[str], tuple[str | None, str | None]]


def addressed_to(event: Event) -> set[str]:
    """Teams the event is addressed to: they receive it whatever else is true."""
    match event:
        case ReferralMade():
            return {event.to_team}
        case ReferralHandedOff():
            return {event.from_team, event.to_team}
        case AssessmentStarted():
            return {event.team}
        case CareCoordinatorAssigned():
            return {event.team_id}
    return set()


class TeamFeedRouter:
    name = "team_router"
    tables: Sequence[Table] = (router_residents,)
    handles: frozenset[str] | None = None

    def __init__(self, js: JetStreamContext, team_info: TeamInfo) -> None:
        self._js = js
        self._team_info = team_info
        self.published = 0

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        published_up_to = await load_checkpoint(conn, PUBLISHED)
        state = await _load(conn, {e.resident_id for e in batch})
        sends: list[tuple[str, bytes, dict[str, str]]] = []
        for recorded in batch:
            resident = state.setdefault(recorded.resident_id, {"teams": [], "consent": None})
            event = recorded.event
            addressed = addressed_to(event)
            resident["teams"] = sorted(set(resident["teams"]) | addressed)
            if isinstance(event, ConsentRecorded):
                resident["consent"] = {"decision": event.decision, "scope": event.scope}
            if recorded.seq <= published_up_to:
                continue
            recipients = addressed | {t for t in resident["teams"] if self._may_see(resident, t)}
            payload = recorded.envelope.model_dump_json().encode()
            for team in sorted(recipients):
                headers = {MSG_ID_HEADER: f"{recorded.seq}:{team}", TYPE_HEADER: recorded.type,
                           "Content-Type": "application/json", "Frontdoor-Source-Seq": str(recorded.seq)}
                sends.append((team_subject(team, recorded.type), payload, headers))
        # Published before the checkpoint commits: a crash in between republishes, which Nats-Msg-Id absorbs.
        await asyncio.gather(*(self._js.publish(subject, payload, headers=headers, timeout=10)
                               for subject, payload, headers in sends))
        self.published += len(sends)
        await upsert(conn, router_residents, [
            {"resident_id": rid, "teams": orjson.dumps(r["teams"]).decode(),
             "consent": orjson.dumps(r["consent"]).decode() if r["consent"] else None}
            for rid, r in state.items()], key=["resident_id"])
        if batch[-1].seq > published_up_to:
            await save_checkpoint(conn, PUBLISHED, batch[-1].seq)

    def _may_see(self, resident: dict[str, Any], team: str) -> bool:
        organisation, sector = self._team_info(team)
        return may_see(resident["teams"], resident["consent"], team, organisation=organisation, sector=sector)


async def _load(conn: AsyncConnection, resident_ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ordered = sorted(resident_ids)
    for start in range(0, len(ordered), 500):
        rows = await conn.execute(select(router_residents).where(
            router_residents.c.resident_id.in_(ordered[start:start + 500])))
        for row in rows:
            found[row.resident_id] = {"teams": orjson.loads(row.teams),
                                      "consent": orjson.loads(row.consent) if row.consent else None}
    return found
