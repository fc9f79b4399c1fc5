"""A projection's position in the stream, stored in the same transaction as its rows."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.tables import checkpoints
from projections.upsert import upsert


async def load_checkpoint(conn: AsyncConnection, projection: str) -> int:
    seq = await conn.scalar(select(checkpoints.c.seq).where(checkpoints.c.projection == projection))
    return int(seq or 0)


async def save_checkpoint(conn: AsyncConnection, projection: str, seq: int) -> None:
    await upsert(conn, checkpoints, [{"projection": projection, "seq": seq}], key=["projection"])


# Built once: every commit of every projection moves its checkpoint, and building the statement each time (the
# expression, then its cache key) was most of what that cost the projector (py-spy, issue 15).
_ADVANCE = update(checkpoints).where(checkpoints.c.projection == bindparam("name"),
                                     checkpoints.c.seq == bindparam("expected")).values(seq=bindparam("to"))


class CheckpointMoved(Exception):
    """Another process advanced this projection meanwhile: this transaction must not commit."""


async def advance_checkpoint(conn: AsyncConnection, projection: str, *, expected: int, seq: int) -> None:
    """Compare-and-set: moves the checkpoint from `expected` to `seq`, or raises if it is no longer `expected`.
    The fencing that makes two momentary lease holders harmless."""
    if expected == 0:
        exists = await conn.scalar(select(checkpoints.c.seq).where(checkpoints.c.projection == projection))
        if exists is None:
            try:
                await conn.execute(checkpoints.insert(), [{"projection": projection, "seq": seq}])
            except IntegrityError as exc:  # another process inserted it first
                raise CheckpointMoved(f"projection {projection}: another process started it") from exc
            return
    result = await conn.execute(_ADVANCE, {"name": projection, "expected": expected, "to": seq})
    if result.rowcount != 1:
        raise CheckpointMoved(f"projection {projection}: checkpoint is no longer {expected}")
