"""Set-based writes that mean the same on SQLite and PostgreSQL: insert, or update on a key conflict."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]) -> None:
    if not rows:
        return
    await conn.execute(_statement(conn.dialect.name, table, tuple(key)), list(rows))


@lru_cache(maxsize=256)
def _statement(dialect: str, table: Table, key: tuple[str, ...]) -> PostgresInsert | SqliteInsert:
    """Built once per table: building it was a tenth of the detector's time (one upsert per registration)."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    columns = [c.name for c in table.columns if c.name not in key]
    return insert.on_conflict_do_update(index_elements=list(key),
                                        set_={name: insert.excluded[name] for name in columns})
