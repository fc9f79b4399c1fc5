"""The caseload projection: every referral where it is now and every assessment, for team caseloads.

A row is the resident view's own `Referral` or `Assessment` (the same typed transitions, so the caseload and the
joined-up view cannot read a referral step differently), plus the resident and, for a referral, how often it was
handed off. Rows are upserted per batch: the batch is folded in memory first, so a referral made and accepted in
the same batch is written once, in its final state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from projections.view_parts import Assessment, Referral

_LATER_STEPS = (ReferralAccepted, ReferralDeclined, ReferralCompleted, ReferralWithdrawn, ReferralHandedOff)


@dataclass(slots=True)
class _ReferralRow:
    resident_id: str
    referral: Referral  # its history is not kept here: the resident view has it
    handoffs: int

    def row(self) -> dict[str, Any]:
        r = self.referral
        return {"referral_id": r.referral_id, "resident_id": self.resident_id, "to_team": r.to_team,
                "from_team": r.from_team, "need": r.need, "urgency": r.urgency, "status": r.status,
                "made_at": r.made_at, "waiting_since": r.waiting_since, "updated_at": r.updated_at,
                "handoffs": self.handoffs}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> _ReferralRow:
        referral = Referral(row["referral_id"], row["from_team"], row["to_team"], row["need"], row["urgency"], "",
                            None, row["status"], row["made_at"], row["waiting_since"], row["updated_at"])
        return cls(row["resident_id"], referral, row["handoffs"])


@dataclass(slots=True)
class _AssessmentRow:
    resident_id: str
    assessment: Assessment

    def row(self) -> dict[str, Any]:
        a = self.assessment
        return {"assessment_id": a.assessment_id, "resident_id": self.resident_id, "team": a.team, "kind": a.kind,
                "status": a.status, "started_at": a.started_at, "completed_at": a.completed_at}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> _AssessmentRow:
        return cls(row["resident_id"], Assessment(row["assessment_id"], row["team"], row["kind"], row["status"],
                                                  row["started_at"], row["completed_at"], None))


class CaseloadProjection:
    name = "caseload"
    tables: Sequence[Table] = (referrals, assessments)
    handles: frozenset[str] | None = frozenset(
        cls.type_name() for cls in (ReferralMade, *_LATER_STEPS, AssessmentStarted, AssessmentCompleted))

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        later_steps = [e.event for e in batch if isinstance(e.event, _LATER_STEPS)]
        refs = {rid: _ReferralRow.from_row(row) for rid, row in (await _existing(
            conn, referrals, "referral_id", {step.referral_id for step in later_steps})).items()}
        asms = {aid: _AssessmentRow.from_row(row) for aid, row in (await _existing(
            conn, assessments, "assessment_id",
            {e.event.assessment_id for e in batch if isinstance(e.event, AssessmentCompleted)})).items()}
        changed_refs: set[str] = set()
        changed_asms: set[str] = set()
        for recorded in batch:
            event = recorded.event
            at = recorded.envelope.occurred_at.isoformat().replace("+00:00", "Z")
            by = recorded.envelope.actor.id
            match event:
                case ReferralMade():
                    refs[event.referral_id] = _ReferralRow(recorded.resident_id, Referral.made(event, at, by), 0)
                    changed_refs.add(event.referral_id)
                case ReferralAccepted() | ReferralDeclined() | ReferralCompleted() | ReferralWithdrawn() | \
                        ReferralHandedOff():
                    row = refs[event.referral_id]
                    if row.referral.move(event, at, by) == "handed_off":
                        row.handoffs += 1
                    changed_refs.add(event.referral_id)
                case AssessmentStarted():
                    asms[event.assessment_id] = _AssessmentRow(recorded.resident_id, Assessment.started(event, at))
                    changed_asms.add(event.assessment_id)
                case AssessmentCompleted():
                    asms[event.assessment_id].assessment.complete(event, at)
                    changed_asms.add(event.assessment_id)
        await upsert(conn, referrals, [refs[r].row() for r in sorted(changed_refs)], key=["referral_id"])
        await upsert(conn, assessments, [asms[a].row() for a in sorted(changed_asms)], key=["assessment_id"])


async def _existing(conn: AsyncConnection, table: Table, key: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        rows = await conn.execute(select(table).where(table.c[key].in_(ordered[start:start + 500])))
        for row in rows:
            found[row._mapping[key]] = dict(row._mapping)
    return found
