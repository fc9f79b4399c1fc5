"""The team feed router (DESIGN §1, §3): republishes to `team.<team_id>.<EventType>` on the TEAMS stream only what
that team may see: work addressed to it, and updates on residents it is involved with and has consent for.

`Nats-Msg-Id` is `<source seq>:<team>`, so a redelivery is deduplicated by the server. What has already been
published is read from TEAMS itself, not from the read-model database: the last message's `Frontdoor-Source-Seq`.
A rebuild into a second, empty database (whose checkpoint row says nothing has been published) therefore
republishes nothing; a high-water row in the old database did not stop it (16,906 messages became 33,812).

The payload is the minimised feed message of `projections.team_feed` (DESIGN §9, version 1).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    CareCoordinatorAssigned,
    ConsentRecorded,
    Event,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
)
from events.codec import MSG_ID_HEADER, TYPE_HEADER
from events.envelope import RecordedEvent
from events.subjects import TEAM_SUBJECTS, TEAMS_STREAM, team_subject
from projections.consent import may_see
from projections.projection import PreparedBatch, Reading
from projections.tables import router_residents
from projections.team_feed import feed_message
from projections.upsert import upsert

SOURCE_SEQ_HEADER = "Frontdoor-Source-Seq"
# Organisation and sector of a team, for consents scoped to them: handed in by the composition root.
TeamInfo = Callable[[str], tuple[str | None, str | None]]


def addressed_to(event: Event) -> set[str]:
    """Teams the event is addressed to: they receive it whatever else is true (consent refused or withdrawn
    included: it is their work, and they must know it was made, withdrawn or handed on)."""
    match event:
        case ReferralMade():
            return {event.to_team}
        case ReferralHandedOff():
            return {event.from_team, event.to_team}
        case ReferralAccepted() | ReferralDeclined() | ReferralCompleted() | ReferralWithdrawn():
            return {event.team} if event.team else set()
        case AssessmentStarted() | AssessmentCompleted():
            return {event.team}
        case CareCoordinatorAssigned():
            return {event.team_id}
    return set()


# Residents' rows held in memory: small (a list of teams and a consent decision each), so a city's worth.
HELD_ROWS = 100_000


class TeamFeedRouter:
    name = "team_router"
    tables: Sequence[Table] = (router_residents,)
    handles: frozenset[str] | None = None

    def __init__(self, js: JetStreamContext, team_info: TeamInfo) -> None:
        self._js = js
        self._team_info = team_info
        self.published = 0
        # After a failed publish, later messages of that batch may have landed while an earlier one did not: the
        # retry then republishes the whole batch (Nats-Msg-Id absorbs the repeats) instead of trusting TEAMS.
        self._unsure_from: int | None = None
        self._prepared: PreparedBatch[list[dict[str, Any]]] = PreparedBatch()  # the rows after a published batch
        # Residents' rows as this leader last read or wrote them: only the router writes them, so while it leads
        # they are the truth, and a batch of calls from residents no team is involved with reads nothing (a select
        # per batch was most of the router's cost). Forgotten with the rest when a transaction does not commit.
        self._rows: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def prepare(self, reading: Reading, batch: Sequence[RecordedEvent]) -> bool:
        """Publishes the batch before its transaction (the runner calls this on a read connection): the router's
        rows change only in its own transactions, one batch after another, so reading them here sees what `apply`
        would. Teams then wait for no other projection's write turn (at 500 contacts a second, five transactions
        queued ahead of the router's on SQLite). False when the batch changes no row: most events do not."""
        rows = await self._publish(reading.connection, batch)  # connects only for rows it does not hold
        self._prepared.keep(batch, rows)
        return bool(rows)

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        rows = self._prepared.take(batch)
        if rows is None:
            async def given() -> AsyncConnection:
                return conn

            rows = await self._publish(given, batch)
        await upsert(conn, router_residents, rows, key=["resident_id"])

    def forget(self) -> None:
        self._prepared.forget()
        self._rows.clear()

    async def _publish(self, connect: Callable[[], Awaitable[AsyncConnection]], batch: Sequence[RecordedEvent]
                       ) -> list[dict[str, Any]]:
        """Publishes what the teams may see of `batch` (not what TEAMS already holds); returns the router's rows
        that the batch changed, as they are after it."""
        published_up_to: int | None = None  # asked of the server only when a batch has something for a team
        state = await self._held_rows(connect, {e.resident_id for e in batch})
        before = {rid: (r["teams"], r["consent"]) for rid, r in state.items()}
        sends: list[tuple[str, bytes, dict[str, str]]] = []
        for recorded in batch:
            resident = state[recorded.resident_id]
            event = recorded.event
            addressed = addressed_to(event)
            resident["teams"] = sorted(set(resident["teams"]) | addressed)
            if isinstance(event, ConsentRecorded):
                resident["consent"] = {"decision": event.decision, "scope": event.scope}
            recipients = addressed | {t for t in resident["teams"] if self._may_see(resident, t)}
            if not recipients:
                continue
            if published_up_to is None:
                published_up_to = await published_source_seq(self._js)
                if self._unsure_from is not None:
                    published_up_to = min(published_up_to, self._unsure_from - 1)
            if recorded.seq <= published_up_to:
                continue
            for team in sorted(recipients):
                headers = {MSG_ID_HEADER: f"{recorded.seq}:{team}", TYPE_HEADER: recorded.type,
                           "Content-Type": "application/json", SOURCE_SEQ_HEADER: str(recorded.seq)}
                payload = orjson.dumps(feed_message(recorded.envelope, event, team))
                sends.append((team_subject(team, recorded.type), payload, headers))
        # Published before the checkpoint commits: a crash in between republishes, which Nats-Msg-Id absorbs.
        # Sent in stream order on one connection, so TEAMS holds a prefix of them and its last message tells
        # how far publishing got.
        try:
            await asyncio.gather(*(self._js.publish(subject, payload, headers=headers, timeout=10)
                                   for subject, payload, headers in sends))
        except BaseException:
            self._unsure_from = batch[0].seq if self._unsure_from is None else min(self._unsure_from, batch[0].seq)
            raise
        if self._unsure_from is not None and batch[-1].seq >= self._unsure_from:
            self._unsure_from = None
        self.published += len(sends)
        # Only the rows that changed (most events change no resident's teams or consent): the checkpoint moves
        # in the same transaction whatever is written.
        return [{"resident_id": rid, "teams": orjson.dumps(r["teams"]).decode(),
                 "consent": orjson.dumps(r["consent"]).decode() if r["consent"] else None}
                for rid, r in state.items() if before.get(rid) != (r["teams"], r["consent"])]

    async def _held_rows(self, connect: Callable[[], Awaitable[AsyncConnection]], resident_ids: set[str]
                         ) -> dict[str, dict[str, Any]]:
        """The residents' rows (a resident without one: no teams, no consent), from memory where held. The dicts
        are the ones held: `_publish` changes them in place, and a batch whose transaction then fails is forgotten
        whole (`forget`)."""
        held = self._rows
        found = {rid: held[rid] for rid in resident_ids if rid in held}
        if len(found) < len(resident_ids):
            read = await _load(await connect(), resident_ids - found.keys())
            for rid in resident_ids - found.keys():
                found[rid] = held[rid] = read.get(rid) or {"teams": [], "consent": None}
        for rid in found:
            held.move_to_end(rid)
        while len(held) > HELD_ROWS:
            held.popitem(last=False)
        return found

    def _may_see(self, resident: dict[str, Any], team: str) -> bool:
        organisation, sector = self._team_info(team)
        return may_see(resident["teams"], resident["consent"], team, organisation=organisation, sector=sector)


async def published_source_seq(js: JetStreamContext) -> int:
    """The CARE sequence of the last event published to any team: the last TEAMS message's source header."""
    try:
        last = await js.get_last_msg(TEAMS_STREAM, TEAM_SUBJECTS, direct=True)
    except NotFoundError:
        return 0  # nothing published yet
    return int((last.headers or {}).get(SOURCE_SEQ_HEADER, 0))


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
