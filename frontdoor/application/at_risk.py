"""Use case: the people at most risk (Dorset "Better Together"), ranked by an explainable score, with the reasons,
for coordinators; paged with an opaque cursor (DESIGN §9) and audited like any read of records."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from frontdoor.application.who import Asked, Principal
from frontdoor.domain.errors import InvalidCommand
from frontdoor.services import Services
from projections.analyst.at_risk_query import Ranked, people_at_risk


async def at_risk(services: Services, who: Principal, asked: Asked, *, cluster: str | None, limit: int,
                  cursor: str | None) -> dict[str, Any]:
    after = _decode(cursor) if cursor else None
    async with services.engine.connect() as conn:
        ranked = await people_at_risk(conn, cluster=cluster, now=datetime.now(UTC))
    if after is not None:
        ranked = [r for r in ranked if (-r.score, r.resident_id) > after]
    page = ranked[:limit]
    more = len(ranked) > limit
    await services.audit.viewed(who.actor, what=f"at-risk:{cluster or 'all'}:{len(page)} results", resident_id=None,
                                purpose=asked.purpose, correlation_id=asked.correlation_id)
    return {"cluster": cluster, "results": [_item(r) for r in page], "count": len(page),
            "next_cursor": _encode(page[-1]) if more and page else None}


def _item(r: Ranked) -> dict[str, Any]:
    return {"resident_id": r.resident_id, "given_name": r.given_name, "family_name": r.family_name,
            "cluster": r.cluster, "score": r.score, "reasons": list(r.reasons)}


def _encode(last: Ranked) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([-last.score, last.resident_id])).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str]:
    try:
        negative_score, resident_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(negative_score), str(resident_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCommand("cursor: not a cursor this list gave out", field="cursor") from exc
