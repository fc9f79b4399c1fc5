"""The live people-at-risk list: every resident of a cluster scored from their view document as of now.

Scored at read time, not stored, because the score moves with the clock (a referral waiting 27 days becomes a
long wait tomorrow with no event). Measured in docs/BENCHMARKS.md: a cluster of a Southampton-sized city is
scored in a fraction of a second; a projection keeping the time-independent part would be the next step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.analyst.risk import facts_from_view, score
from projections.tables import resident_views, residents

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Ranked:
    resident_id: str
    cluster: str | None
    given_name: str
    family_name: str
    score: int
    reasons: tuple[str, ...]


async def people_at_risk(conn: AsyncConnection, *, cluster: str | None, now: datetime) -> list[Ranked]:
    """Residents with a score above zero, highest first (then by id, so pages are stable)."""
    query = select(residents.c.resident_id, residents.c.cluster, residents.c.given_name, residents.c.family_name)
    if cluster is not None:
        query = query.where(residents.c.cluster == cluster)
    people = {rid: (c, g, f) for rid, c, g, f in await conn.execute(query)}
    ids = sorted(people)
    ranked = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows = await conn.execute(select(resident_views.c.resident_id, resident_views.c.doc)
                                  .where(resident_views.c.resident_id.in_(chunk)))
        for rid, doc in rows:
            risk = score(facts_from_view(orjson.loads(doc), now))
            if risk.score > 0:
                cl, given, family = people[rid]
                ranked.append(Ranked(rid, cl, given, family, risk.score, risk.reasons))
    ranked.sort(key=lambda r: (-r.score, r.resident_id))
    return ranked
