"""A projection's position in the stream, stored in the same transaction as its rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.tables import checkpoints
from projections.upsert import upsert


async def load_checkpoint(conn: AsyncConnection, projection: str) -> int:
    seq = await conn.scalar(select(checkpoints.c.seq).where(checkpoints.c.projection == projection))
    return int(seq or 0)


async def save_checkpoint(conn: AsyncConnection, projection: str, seq: int) -> None:
    await upsert(conn, checkpoints, [{"projection": projection, "seq": seq}], key=["projection"])
