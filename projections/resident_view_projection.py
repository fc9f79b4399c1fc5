"""The resident-view projection: the search table `residents` and the joined-up document `resident_views`.

Per batch: load the documents the batch touches in one select (those it wrote lately are still in memory), fold
the events in memory, write them back in one set-based upsert. A link touches both records, so both are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.catalogue import ResidentDetailsCorrected, ResidentRegistered, ResidentsLinked, ResidentsUnlinked
from events.envelope import RecordedEvent
from projections import resident_view
from projections.recent_documents import RecentDocuments
from projections.tables import resident_views, residents
from projections.upsert import upsert

_CHUNK = 500  # keeps IN (...) lists well inside every database's parameter limit


class ResidentViewProjection:
    name = "resident_view"
    tables: Sequence[Table] = (residents, resident_views)
    handles: frozenset[str] | None = None

    def __init__(self) -> None:
        self._recent = RecentDocuments()

    def forget(self) -> None:
        self._recent.forget()

    async def apply(self, conn: AsyncConnection, batch: Sequence[RecordedEvent]) -> None:
        touched = {e.resident_id for e in batch}
        links = [e.event for e in batch if isinstance(e.event, ResidentsLinked | ResidentsUnlinked)]
        touched |= {link.other_resident_id for link in links}
        views, missing = self._recent.take(touched)
        views |= await load_views(conn, missing)
        search_rows: dict[str, dict[str, Any]] = {}
        for recorded in batch:
            view = views.setdefault(recorded.resident_id, resident_view.new_view(recorded.resident_id))
            resident_view.apply(view, recorded)
            event = recorded.event
            if isinstance(event, ResidentsLinked | ResidentsUnlinked):
                other = views.setdefault(event.other_resident_id, resident_view.new_view(event.other_resident_id))
                if isinstance(event, ResidentsLinked):
                    resident_view.link(other, recorded.resident_id)
                else:
                    resident_view.unlink(other, recorded.resident_id)
            if isinstance(event, ResidentRegistered | ResidentDetailsCorrected) and view["details"]:
                search_rows[recorded.resident_id] = search_row(view)
        # No key sorting needed for row-for-row equal rebuilds: the fold always builds keys in the same order.
        written = {rid: orjson.dumps(v).decode() for rid, v in views.items() if rid in touched}
        await upsert(
            conn,
            resident_views,
            [{"resident_id": rid, "doc": doc, "version": views[rid]["version"]} for rid, doc in written.items()],
            key=["resident_id"],
        )
        await upsert(conn, residents, list(search_rows.values()), key=["resident_id"])
        self._recent.keep(views, written)


async def load_views(conn: AsyncConnection, resident_ids: set[str], table: Table = resident_views
                     ) -> dict[str, dict[str, Any]]:
    """The stored documents of these residents from `table` (the detector keeps its own copy in another)."""
    found: dict[str, dict[str, Any]] = {}
    ids = sorted(resident_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = await conn.execute(select(table.c.resident_id, table.c.doc).where(table.c.resident_id.in_(chunk)))
        for rid, doc in rows:
            found[rid] = orjson.loads(doc)
    return found


def search_row(view: dict[str, Any]) -> dict[str, Any]:
    d = view["details"]
    return {
        "resident_id": view["resident_id"],
        "nhs_number": d.get("nhs_number"),
        "given_name": d["given_name"],
        "family_name": d["family_name"],
        "search_name": f"{d['given_name']} {d['family_name']}".lower(),
        "date_of_birth": date.fromisoformat(d["date_of_birth"]),
        "postcode": d["postcode"],
        "postcode_key": postcode_key(d["postcode"]),
        "gp_practice": d.get("gp_practice"),
        "cluster": d.get("cluster"),
        "version": view["version"],
    }


def postcode_key(postcode: str) -> str:
    return postcode.replace(" ", "").upper()
