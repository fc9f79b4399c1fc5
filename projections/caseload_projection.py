"""The caseload projection: every referral where it is now and every assessment, for team caseloads.

Rows are upserted per batch: the batch is folded in memory first (one dict per referral), so a referral made
and accepted in the same batch is written once, in its final state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
)
from events.envelope import RecordedEvent
from projections.tables import assessments, referrals
from projections.upsert import upsert

_STATUS = {ReferralAccepted: "accepted", ReferralDeclined: "declined", ReferralCompleted: "completed",
           ReferralWithdrawn: "withdrawn"}
_LATER_STEPS = (ReferralAccepted, ReferralDeclined, ReferralCompleted, ReferralWithdrawn, ReferralHandedOff)


class CaseloadProjection:
    name = "caseload"
    tables: Sequence[Table] = (referrals, assessments)
    handles: frozenset[str] | None = frozenset(
        cls.type_name() for cls in (ReferralMade, *_LATER_STEPS, AssessmentStarted, AssessmentCompleted))

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        later_steps = [e.event for e in batch if isinstance(e.event, _LATER_STEPS)]
        refs = await _existing(conn, referrals, "referral_id", {step.referral_id for step in later_steps})
        asms = await _existing(conn, assessments, "assessment_id", {
            e.event.assessment_id for e in batch if isinstance(e.event, AssessmentCompleted)})
        changed_refs: set[str] = set()
        changed_asms: set[str] = set()
        for recorded in batch:
            event = recorded.event
            at = recorded.envelope.occurred_at.isoformat().replace("+00:00", "Z")
            match event:
                case ReferralMade():
                    refs[event.referral_id] = {
                        "referral_id": event.referral_id, "resident_id": recorded.resident_id,
                        "to_team": event.to_team, "from_team": event.from_team, "need": event.need,
                        "urgency": event.urgency, "status": "made", "made_at": at, "waiting_since": at,
                        "updated_at": at, "handoffs": 0}
                    changed_refs.add(event.referral_id)
                case ReferralAccepted() | ReferralDeclined() | ReferralCompleted() | ReferralWithdrawn():
                    refs[event.referral_id] |= {"status": _STATUS[type(event)], "updated_at": at}
                    changed_refs.add(event.referral_id)
                case ReferralHandedOff():
                    row = refs[event.referral_id]
                    row |= {"status": "made", "to_team": event.to_team, "waiting_since": at, "updated_at": at,
                            "handoffs": row["handoffs"] + 1}
                    changed_refs.add(event.referral_id)
                case AssessmentStarted():
                    asms[event.assessment_id] = {
                        "assessment_id": event.assessment_id, "resident_id": recorded.resident_id,
                        "team": event.team, "kind": event.kind, "status": "started", "started_at": at,
                        "completed_at": None}
                    changed_asms.add(event.assessment_id)
                case AssessmentCompleted():
                    asms[event.assessment_id] |= {"status": "completed", "completed_at": at}
                    changed_asms.add(event.assessment_id)
        await upsert(conn, referrals, [refs[r] for r in sorted(changed_refs)], key=["referral_id"])
        await upsert(conn, assessments, [asms[a] for a in sorted(changed_asms)], key=["assessment_id"])


async def _existing(conn: AsyncConnection, table: Table, key: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        rows = await conn.execute(select(table).where(table.c[key].in_(ordered[start:start + 500])))
        for row in rows:
            found[row._mapping[key]] = dict(row._mapping)
    return found
