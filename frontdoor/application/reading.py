"""Use cases that read: the joined-up view (now, or as of any moment), search, a record's audit trail, a team's
caseload. Every read of a record is audited before it is answered (no audit, no record); a team sees a record
only with a legitimate relationship and consent, and is never told whether a record it may not see exists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from events.errors import UnreadableEvent
from events.subjects import AUDIT_STREAM
from frontdoor.application import paging
from frontdoor.application.access import check_may_see, refused, team_may_see
from frontdoor.application.errors import BeyondTheStream, HistoryUnreadable, NotAllowed, TeamNotFound, ViewBehind
from frontdoor.application.who import Asked, Principal
from frontdoor.domain.errors import InvalidCommand, ResidentNotFound
from frontdoor.services import Services
from projections import queries, resident_view

STREAM_OF = {"audit_log": AUDIT_STREAM}


async def wait_for_read(services: Services, projection: str, min_seq: int | None) -> None:
    """Read your writes: waits (bounded) until `projection` has applied `min_seq`. A sequence the stream has not
    reached is refused at once: waiting for it could only time out."""
    if not min_seq:
        return
    stream = STREAM_OF.get(projection)
    last = await (services.store.last_seq() if stream is None else _last_seq(services, stream))
    if min_seq > last:
        raise BeyondTheStream(f"min_seq {min_seq} is past the end of the stream (its last sequence is {last})",
                              field="min_seq", last_seq=last)
    ok, applied = await services.wait_for(projection, min_seq)
    if not ok:
        raise ViewBehind(f"the {projection} view has reached stream sequence {applied} of {min_seq} after "
                         f"{services.settings.read_wait_s:g}s; retry shortly", applied_seq=applied, min_seq=min_seq,
                         behind=max(min_seq - applied, 0))


async def _last_seq(services: Services, stream: str) -> int:
    info = await services.js.stream_info(stream)
    return int(info.state.last_seq)


async def view(services: Services, who: Principal, asked: Asked, resident_id: str, *, min_seq: int | None = None,
               as_of: datetime | None = None, what: str = "resident") -> dict[str, Any]:
    if as_of is not None:
        doc = await _view_as_of(services, who, resident_id, as_of)
    else:
        await wait_for_read(services, "resident_view", min_seq)
        doc = await current_view(services, who, resident_id)
    await services.audit.viewed(who.actor, what=what + (f"@{as_of.isoformat()}" if as_of else ""),
                                resident_id=resident_id, purpose=asked.purpose, correlation_id=asked.correlation_id)
    return doc


async def current_view(services: Services, who: Principal, resident_id: str) -> dict[str, Any]:
    async with services.engine.connect() as conn:
        doc = await queries.view_of(conn, resident_id)
        check_may_see(who, doc, services.teams)
        if doc is None:
            raise ResidentNotFound(f"no resident {resident_id}")
        linked = await queries.views_of(conn, doc["linked_residents"])
    return _with_linked(doc, linked)


async def _view_as_of(services: Services, who: Principal, resident_id: str, as_of: datetime) -> dict[str, Any]:
    if as_of.tzinfo is None:
        raise InvalidCommand("as_of needs a time zone, e.g. 2026-11-22T09:00:00Z", field="as_of")
    if who.is_team:
        # Judged by the relationship and consent in force now: a refusal today also closes the record's past.
        async with services.engine.connect() as conn:
            check_may_see(who, await queries.view_of(conn, resident_id), services.teams)
    def until(events: list[Any]) -> list[Any]:
        # Stream order, filtered by when each fact happened: the order the front door checked every step in.
        return [e for e in events if e.envelope.occurred_at <= as_of]

    own = until(await _history(services, resident_id))
    async with services.engine.connect() as conn:
        current = await queries.view_of(conn, resident_id)
    # The records linked to this one then, each as it was then: this record's own links, and records linked to
    # it now (a link of version 1 was written to one of the two records only). The one fold decides.
    candidates = set(resident_view.fold_view(resident_id, own).linked_residents)
    candidates |= set(current["linked_residents"] if current else [])
    candidates.discard(resident_id)
    streams = {resident_id: own} | {other: until(await _history(services, other)) for other in sorted(candidates)}
    views = resident_view.fold_records(streams)
    mine = views[resident_id]
    if mine.details is None:
        if who.is_team:
            raise refused(who)
        raise ResidentNotFound(f"no resident {resident_id} was registered by {as_of.isoformat()}")
    linked = [views[o].document() for o in mine.linked_residents if o in views and views[o].details is not None]
    doc = _with_linked(mine.document(), linked)
    doc["as_of"] = as_of.isoformat()
    return doc


async def _history(services: Services, resident_id: str) -> list[Any]:
    try:
        return await services.store.read_resident(resident_id)
    except UnreadableEvent as exc:
        raise HistoryUnreadable(str(exc), seq=exc.seq) from exc


def _with_linked(doc: dict[str, Any], linked: list[dict[str, Any]]) -> dict[str, Any]:
    """The union across linked records of one person: their work shows here too, marked with its record."""
    if not linked:
        return doc
    for key in ("contacts", "referrals", "assessments", "open_flags"):
        for other in linked:
            doc[key] = doc[key] + [item | {"record": other["resident_id"]} for item in other.get(key, [])]
    doc["teams_involved"] = sorted(set(doc["teams_involved"]).union(*(o["teams_involved"] for o in linked)))
    doc["linked_records"] = [{"resident_id": o["resident_id"], "details": o["details"],
                              "care_coordinator": o["care_coordinator"]} for o in linked]
    return doc


async def search(services: Services, who: Principal, asked: Asked, q: str, *, limit: int,
                 cursor: str | None = None) -> dict[str, Any]:
    terms = queries.parse_query(q)
    if terms.empty:
        raise InvalidCommand("say a name, NHS number, date of birth or postcode", field="q")
    after = paging.key_of((paging.decode("residents", cursor) or {}).get("after"), 3)
    async with services.engine.connect() as conn:
        found, more = paging.page_of(await queries.search(conn, terms, limit=limit + 1, after=after), limit)
        # The next page starts after the last row read, whether or not a team may see it.
        next_cursor = paging.encode("residents", {"after": list(queries.search_key(found[-1]))}) if more else None
        if who.is_team:
            views = {v["resident_id"]: v for v in await queries.views_of(conn, [r["resident_id"] for r in found])}
            found = [r for r in found if r["resident_id"] in views
                     and team_may_see(views[r["resident_id"]], str(who.team_id), services.teams)]
    await services.audit.viewed(who.actor, what=f"search:{len(found)} results", resident_id=None,
                                purpose=asked.purpose, correlation_id=asked.correlation_id)
    return {"results": found, "count": len(found), "next_cursor": next_cursor}


async def audit_trail(services: Services, who: Principal, asked: Asked, resident_id: str, *, limit: int,
                      min_seq: int | None) -> dict[str, Any]:
    await wait_for_read(services, "audit_log", min_seq)
    async with services.engine.connect() as conn:
        entries = await queries.audit_of(conn, resident_id, limit=limit)
    await services.audit.viewed(who.actor, what="audit", resident_id=resident_id, purpose=asked.purpose,
                                correlation_id=asked.correlation_id)
    return {"resident_id": resident_id, "entries": entries, "count": len(entries)}


SORTS = ("waiting", "urgency", "need", "made_at")


async def caseload(services: Services, who: Principal, asked: Asked, team_id: str, *, sort: str,
                   min_seq: int | None, limit: int = 500, cursor: str | None = None) -> dict[str, Any]:
    """A page of the team's open referrals and a page of its assessments in progress, each at most `limit`;
    `next_cursor` goes on with both lists where they stopped (null when both are done)."""
    if who.is_team and who.team_id != team_id:
        raise NotAllowed(f"a {who.team_id} token cannot read team {team_id}'s caseload")
    if services.teams.get(team_id) is None:
        raise TeamNotFound(f"no team {team_id}")
    state = paging.decode("caseload", cursor) or {"sort": sort}
    if state.get("sort") != sort:
        raise InvalidCommand("this cursor belongs to another order of the caseload: keep `sort` while paging",
                             field="cursor")
    after_referral = paging.key_of(state.get("r"), len(queries.CASELOAD_ORDERS[sort]))
    after_assessment = paging.key_of(state.get("a"), 2)
    await wait_for_read(services, "caseload", min_seq)
    if who.is_team:  # its list is filtered by the resident views: they must have come as far
        await wait_for_read(services, "resident_view", min_seq)
    async with services.engine.connect() as conn:
        scanned = await queries.caseload(conn, team_id, sort=sort, limit=limit, after_referral=after_referral,
                                         after_assessment=after_assessment,
                                         referrals_done=bool(state.get("r_done")),
                                         assessments_done=bool(state.get("a_done")))
        refs, more_refs = paging.page_of(scanned["referrals"], limit)
        asms, more_asms = paging.page_of(scanned["assessments"], limit)
        if more_refs or more_asms:
            next_cursor: str | None = paging.encode("caseload", {
                "sort": sort,
                "r": list(queries.referral_key(refs[-1], sort)) if more_refs else None, "r_done": not more_refs,
                "a": list(queries.assessment_key(asms[-1])) if more_asms else None, "a_done": not more_asms})
        else:
            next_cursor = None
        work = {"referrals": refs, "assessments": asms}
        if who.is_team:
            # A team's list shows only residents it may see: not those whose consent is refused or withdrawn.
            ids = sorted({item["resident_id"] for kind in ("referrals", "assessments") for item in work[kind]})
            visible = {v["resident_id"] for v in await queries.views_of(conn, ids)
                       if team_may_see(v, team_id, services.teams)}
            work = {kind: [i for i in items if i["resident_id"] in visible] for kind, items in work.items()}
    today = datetime.now(UTC)
    for item in work["referrals"]:
        item["days_waiting"] = (today - datetime.fromisoformat(item["waiting_since"])).days
    await services.audit.viewed(who.actor, what=f"caseload:{team_id}", resident_id=None, purpose=asked.purpose,
                                correlation_id=asked.correlation_id)
    return {"team_id": team_id, "referrals": work["referrals"], "assessments": work["assessments"],
            "open": len(work["referrals"]) + len(work["assessments"]), "next_cursor": next_cursor}
