"""Set-based writes that mean the same on SQLite and PostgreSQL: insert, or update on a key conflict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]) -> None:
    if not rows:
        return
    insert = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    columns = [c.name for c in table.columns if c.name not in key]
    statement = insert.on_conflict_do_update(
        index_elements=list(key), set_={name: insert.excluded[name] for name in columns}
    )
    await conn.execute(statement, list(rows))
