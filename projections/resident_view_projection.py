"""The resident-view projection: the search table `residents` and the joined-up document `resident_views`.

Per batch: load the documents the batch touches in one select (those it wrote lately are still in memory), fold
the events in memory (`resident_view`'s typed fold), write them back in one set-based upsert. A one-sided
(version 1) link touches both records, so both are loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import orjson
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import ResidentDetailsCorrected, ResidentRegistered
from events.envelope import RecordedEvent
from projections.recent_documents import RecentDocuments
from projections.resident_view import ResidentView, fold_into, touches
from projections.tables import resident_views, residents
from projections.upsert import upsert

_CHUNK = 500  # keeps IN (...) lists well inside every database's parameter limit
V = TypeVar("V", bound=ResidentView)


class ResidentViewProjection:
    name = "resident_view"
    tables: Sequence[Table] = (residents, resident_views)
    handles: frozenset[str] | None = None

    def __init__(self) -> None:
        self._recent = RecentDocuments(ResidentView.load)

    def forget(self) -> None:
        self._recent.forget()

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        touched = {rid for e in batch for rid in touches(e)}
        views, missing = self._recent.take(touched)
        views |= await load_views(conn, missing, resident_views, ResidentView.from_document)
        search_rows: dict[str, dict[str, Any]] = {}
        for recorded in batch:
            view = fold_into(views, recorded, ResidentView)[0]
            if isinstance(recorded.event, ResidentRegistered | ResidentDetailsCorrected) and view.details:
                search_rows[recorded.resident_id] = search_row(view)
        # No key sorting needed for row-for-row equal rebuilds: the fold always builds keys in the same order.
        written = {rid: v.to_json().decode() for rid, v in views.items() if rid in touched}
        await upsert(
            conn,
            resident_views,
            [{"resident_id": rid, "doc": doc, "version": views[rid].version} for rid, doc in written.items()],
            key=["resident_id"],
        )
        await upsert(conn, residents, list(search_rows.values()), key=["resident_id"])
        self._recent.keep(views, written)


async def load_views(conn: AsyncConnection, resident_ids: set[str], table: Table,
                     from_document: Callable[[dict[str, Any]], V]) -> dict[str, V]:
    """The stored views of these residents from `table` (the detector keeps its own copy in another)."""
    found: dict[str, V] = {}
    ids = sorted(resident_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = await conn.execute(select(table.c.resident_id, table.c.doc).where(table.c.resident_id.in_(chunk)))
        for rid, doc in rows:
            found[rid] = from_document(orjson.loads(doc))
    return found


def search_row(view: ResidentView) -> dict[str, Any]:
    d = view.details
    assert d is not None
    return {
        "resident_id": view.resident_id,
        "nhs_number": d.nhs_number,
        "given_name": d.given_name,
        "family_name": d.family_name,
        "search_name": f"{d.given_name} {d.family_name}".lower(),
        "date_of_birth": date.fromisoformat(d.date_of_birth),
        "postcode": d.postcode,
        "postcode_key": postcode_key(d.postcode),
        "gp_practice": d.gp_practice,
        "cluster": d.cluster,
        "version": view.version,
    }


def postcode_key(postcode: str) -> str:
    return postcode.replace(" ", "").upper()
