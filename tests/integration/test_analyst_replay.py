"""The analyst replay of DESIGN §9 against a real nats-server: a demo city (with the detector's flags) exported
to SQLite and to Parquet holds nothing that identifies anyone; keys make pseudonyms; --until is a prefix."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from nats.js import JetStreamContext

from events.streams import ensure_streams
from events.subjects import AUDIT_STREAM, CARE_STREAM
from frontdoor.services import Services
from projections.analyst.pseudonyms import Pseudonyms
from projections.analyst.replay import Export, replay
from projections.analyst.writers import Rows, write_parquet, write_sql
from projections.database import create_engine
from tests.integration.analyst_city import city, identifiers, leaks, parquet_rows, sql_rows

KEY = b"analyst-test-key-0123456789abcdef"
OTHER_KEY = b"another-analyst-key-9876543210zyx"


async def export_parquet(services: Services, folder: Path, *, key: bytes = KEY, until: datetime | None = None,
                         ) -> Export:
    async def write(rows: Rows) -> None:
        write_parquet(folder, rows)

    return await replay(services.nc, services.js, pseudonyms=Pseudonyms(key), destination=str(folder), write=write,
                        checkpoint=folder.parent / f"{folder.name}.checkpoint", until=until)


async def export_sql(services: Services, url: str, tmp_path: Path) -> Export:
    async def write(rows: Rows) -> None:
        engine = create_engine(url)
        try:
            await write_sql(engine, rows)
        finally:
            await engine.dispose()

    return await replay(services.nc, services.js, pseudonyms=Pseudonyms(KEY), destination=url, write=write,
                        checkpoint=tmp_path / "sql.checkpoint")


async def test_an_export_of_a_city_holds_no_identifier_and_keys_decide_the_pseudonyms(
        services: Services, tmp_path: Path) -> None:
    last = await city(services, residents=120, seed=31)
    needles, births = await identifiers(services)
    url = f"sqlite+aiosqlite:///{tmp_path / 'analyst.db'}"

    exported = await export_parquet(services, tmp_path / "a")
    await export_sql(services, url, tmp_path)
    await export_parquet(services, tmp_path / "b", key=OTHER_KEY)

    assert (exported.from_seq, exported.to_seq) == (1, last)
    from_parquet, from_sql = parquet_rows(tmp_path / "a"), await sql_rows(url)
    for tables in (from_parquet, from_sql):
        assert leaks(tables, needles, births) == []
        assert {name for name, rows in tables.items() if not rows} == set()  # every table has something to check
    rules = {row["rule"] for row in from_parquet["flags"]}
    assert "possible_duplicate_resident" in rules and len(rules) >= 4
    assert any(row["status"] == "resolved" for row in from_parquet["flags"])
    # Rule 6 names the other record: its reference is that record's pseudonym, which joins to the residents.
    residents = {row["resident"] for row in from_parquet["residents"]}
    rule6 = {row["flag"] for row in from_parquet["flags"] if row["rule"] == "possible_duplicate_resident"}
    assert all(ref["reference"] in residents for ref in from_parquet["flag_references"] if ref["flag"] in rule6)
    # The same key, the same pseudonyms in SQL and Parquet; another key, none in common.
    assert residents == {row["resident"] for row in from_sql["residents"]}
    others = parquet_rows(tmp_path / "b")
    ids, other_ids = _pseudonyms(from_parquet), _pseudonyms(others)
    assert ids and other_ids and ids.isdisjoint(other_ids)


ID_COLUMNS = {"resident", "contact", "referral", "assessment", "flag", "reference", "other_resident", "worker",
              "replaces_worker"}


def _pseudonyms(tables: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {cell for rows in tables.values() for row in rows for k, cell in row.items()
            if k in ID_COLUMNS and cell is not None}


async def test_until_gives_the_tables_of_a_stream_that_ends_then(
        services: Services, js: JetStreamContext, tmp_path: Path) -> None:
    last = await city(services, residents=60, seed=32)
    messages = [await js.get_msg(CARE_STREAM, seq) for seq in range(1, last + 1)]
    cut = messages[len(messages) // 2].time
    assert cut is not None
    kept = [m for m in messages if m.time is not None and m.time <= cut]
    assert [m.seq for m in kept] == list(range(1, len(kept) + 1)) and len(kept) < last

    until = await export_parquet(services, tmp_path / "until", until=cut)

    # The same events alone in a fresh stream, replayed whole.
    for name in (CARE_STREAM, AUDIT_STREAM):
        await js.delete_stream(name)
    await ensure_streams(js)
    for m in kept:
        assert m.subject is not None and m.data is not None
        await js.publish(m.subject, m.data, headers={"Frontdoor-Type": orjson.loads(m.data)["type"]})
    alone = await export_parquet(services, tmp_path / "alone")

    assert until.to_seq == alone.to_seq == len(kept)
    for name in sorted(p.name for p in (tmp_path / "alone").glob("*.parquet")):
        assert (tmp_path / "until" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name
