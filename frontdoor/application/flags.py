"""Use cases on duplicated work: list the flags, resolve one (as linked records, the two records are linked in
the same atomic batch as the resolution)."""

from __future__ import annotations

from typing import Any

from frontdoor.application import paging
from frontdoor.application.answers import Answer
from frontdoor.application.commanding import answer, context_for, now
from frontdoor.application.idempotency import once
from frontdoor.application.inputs import ResolveBody
from frontdoor.application.links import on_both
from frontdoor.application.reading import wait_for_read
from frontdoor.application.who import Asked, Principal
from frontdoor.application.work import known_team
from frontdoor.domain import commands as c
from frontdoor.domain.errors import InvalidCommand, WorkNotFound
from frontdoor.services import Services
from projections import queries


async def list_flags(services: Services, *, status: str | None, rule: str | None, cluster: str | None,
                     team: str | None, resident_id: str | None, limit: int, min_seq: int | None,
                     cursor: str | None = None) -> dict[str, Any]:
    if team is not None:
        known_team(services, team, "team")
    if cluster is not None and cluster not in {c.id for c in services.teams.clusters}:
        raise InvalidCommand(f"no cluster {cluster[:64]} (see GET /teams)", field="cluster")
    after = paging.key_of((paging.decode("flags", cursor) or {}).get("after"), 2)
    await wait_for_read(services, "flags", min_seq)
    async with services.engine.connect() as conn:
        rows = await queries.list_flags(conn, status=status, rule=rule, cluster=cluster, team=team,
                                        resident_id=resident_id, limit=limit + 1, after=after)
    found, more = paging.page_of(rows, limit)
    next_cursor = paging.encode("flags", {"after": list(queries.flag_key(found[-1]))}) if more else None
    return {"flags": found, "count": len(found), "next_cursor": next_cursor}


async def _find(services: Services, flag_id: str) -> dict[str, Any]:
    async with services.engine.connect() as conn:
        found = await queries.flag(conn, flag_id)
    if found is None:  # perhaps just raised: wait until the flags view has caught up with the stream
        await services.wait_for("flags", await services.store.last_seq())
        async with services.engine.connect() as conn:
            found = await queries.flag(conn, flag_id)
    if found is None:
        raise WorkNotFound(f"no flag {flag_id}")
    return found


async def resolve_flag(services: Services, who: Principal, asked: Asked, flag_id: str, body: ResolveBody) -> Answer:
    async def run() -> Answer:
        found = await _find(services, flag_id)
        resident_id = found["resident_id"]
        command = c.ResolveFlag(at=now(), flag_id=flag_id, resolution=body.resolution, by=who.sub, note=body.note)
        others = [r for r in found["references"] if r != resident_id]
        reply = {"flag_id": flag_id, "resolution": body.resolution}
        if body.resolution == "linked_records" and found["rule"] == "possible_duplicate_resident" and others:
            outcome = await on_both(services, context_for(who, asked), resident_id, others[0], command)
            return Answer(reply | {"resident_id": resident_id, "seq": outcome.seq})
        return await answer(services, who, asked, resident_id, command, reply)

    return await once(services.idempotency, who, asked.idempotency, run)
