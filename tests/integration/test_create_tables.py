"""Several processes starting on one new SQLite file (`serve` and its projector child on a new data directory)
create the read models' tables side by side: none of them fails, and every table is there afterwards. Each engine
here is another process's connection pool: its connections run in threads of their own, as they would."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import inspect

from projections.database import create_engine, create_tables
from projections.tables import metadata


async def test_processes_starting_together_on_a_new_sqlite_file_all_find_their_tables(tmp_path: Path) -> None:
    for attempt in range(10):
        url = f"sqlite+aiosqlite:///{tmp_path / f'new-{attempt}.db'}"
        engines = [create_engine(url) for _ in range(3)]
        try:
            outcomes = await asyncio.gather(*(create_tables(e, metadata) for e in engines), return_exceptions=True)
            assert [o for o in outcomes if o is not None] == [], outcomes
            async with engines[0].connect() as conn:
                tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            assert set(metadata.tables) <= tables
            assert mode == "wal"
        finally:
            for engine in engines:
                await engine.dispose()
