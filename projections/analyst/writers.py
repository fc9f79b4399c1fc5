"""Writing the analyst tables: one Parquet file per table, or tables in an SQL database, all at once.

Parquet files are the same bytes for the same rows: fixed row order (the fold's), fixed writer options, no
creation time in the file (parquet-cpp writes none; its `created_by` names the library version). Each file is
written beside its final name and renamed into place, so a reader never sees half a file.
SQL: every table is dropped, created and filled in one transaction: an interrupted write leaves the last
complete export (or nothing), never a mix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.analyst.fold import Rows
from projections.analyst.schema import TABLES, arrow_schema, sql_tables

EPOCH = datetime(1970, 1, 1)
INSERT_CHUNK = 20_000


def arrow_table(name: str, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    schema = arrow_schema(name)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays([pa.array(list(col), type=field.type) for col, field in zip(columns, schema,
                                                                                                 strict=True)],
                                schema=schema)


def write_parquet(folder: Path, rows: Rows) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        path = folder / f"{name}.parquet"
        partial = folder / f".{name}.parquet.partial"
        pq.write_table(arrow_table(name, rows[name]), partial, compression="zstd", compression_level=3,
                       use_dictionary=True, write_statistics=True, row_group_size=1_000_000,
                       data_page_version="2.0", version="2.6")
        os.replace(partial, path)
        written.append(path)
    return written


def _sql_value_converters(name: str) -> list[int]:
    return [i for i, (_, kind) in enumerate(TABLES[name]) if kind == "time"]


def _to_datetime(micros: int | None) -> datetime | None:
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


def sqlite_cells(name: str, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as SQLite stores them through SQLAlchemy's DateTime ("YYYY-MM-DD HH:MM:SS.ffffff", UTC), made in
    Python: what `write_sql` has SQLite make itself (`sqlite_time`), and the plain way of the benchmark's raw
    bulk insert."""
    times = _sql_value_converters(name)
    if not times:
        return list(rows)
    out = []
    for row in rows:
        cells = list(row)
        for i in times:
            if cells[i] is not None:
                cells[i] = (EPOCH + timedelta(microseconds=cells[i])).isoformat(" ", "microseconds")
        out.append(tuple(cells))
    return out


def sqlite_time(parameter: str) -> str:
    """SQL that turns microseconds since the epoch (or NULL) into the text of `sqlite_cells`, inside SQLite.

    Made in Python, that text cost more than the insert itself (one datetime, one timedelta and one isoformat per
    cell, with the GIL held); SQLite makes it in C within `sqlite3_step`. SQLite's `%` keeps the sign of the
    dividend, so the microseconds are brought into 0..999999 before they split off (times before 1970)."""
    micros = f"(({parameter} % 1000000) + 1000000) % 1000000"
    return f"datetime(({parameter} - {micros}) / 1000000, 'unixepoch') || printf('.%06d', {micros})"


def sqlite_insert(name: str) -> str:
    """The INSERT for `name` that takes the fold's rows as they are, times as microseconds."""
    columns = TABLES[name]
    values = ", ".join(sqlite_time(f"?{i}") if kind == "time" else f"?{i}"
                       for i, (_, kind) in enumerate(columns, start=1))
    return f"INSERT INTO {name} ({', '.join(c for c, _ in columns)}) VALUES ({values})"


async def write_sql(engine: AsyncEngine, rows: Rows) -> None:
    metadata, tables = sql_tables()
    sqlite = engine.dialect.name == "sqlite"
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: metadata.drop_all(sync, checkfirst=True))
        await conn.run_sync(lambda sync: metadata.create_all(sync))
        for name, table in tables.items():
            data = rows[name]
            if sqlite:
                # The driver's executemany straight away: SQLAlchemy's per-row dicts and bind processing cost
                # several times the insert itself (bench/analyst_replay.py).
                if data:
                    await conn.exec_driver_sql(sqlite_insert(name), data)
                continue
            times = _sql_value_converters(name)
            columns = [c for c, _ in TABLES[name]]
            for start in range(0, len(data), INSERT_CHUNK):
                chunk = data[start:start + INSERT_CHUNK]
                if times:
                    chunk = [tuple(_to_datetime(v) if i in times else v for i, v in enumerate(row)) for row in chunk]
                await conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in chunk])
