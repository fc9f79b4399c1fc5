"""Issue 12: the analyst replay of 1,000,000 events into Parquet and into SQLite, beside baselines of the same run.

Events (20 per resident: a registration, consent, six contacts, a flag, two referrals with their steps, one
handed off, an assessment and a coordinator) are written with raw core publishes to `care.<resident>` (no
HTTP, no command path: the replay is what is measured), then checked to be all in the stream. Then:
- baseline "raw read": the replay's own reader (`read_range`) with nothing done per message;
- for information, where the time goes: orjson decode + fold of a sample of 100,000 payloads in memory (CPU only),
  and `fold.tables()`;
- the replay into Parquet (`replay` + `write_parquet`), goal under 60 s for 1M events;
- the replay into SQLite (`replay` + `write_sql`, SQLAlchemy core, one transaction), and the baseline "raw bulk
  insert": the same rows with sqlite3 `executemany` into a fresh file in one transaction, with SQLite's defaults.
  Goals: the whole replay within 2x raw read + raw bulk insert, and the SQL write within 2x the raw bulk insert.
  The raw insert makes each time's text in Python (`sqlite_cells`), the plain way; `write_sql` has SQLite make it
  in the INSERT (`sqlite_insert`), which is most of why it beats the raw insert. For information, the raw insert
  done that way too, which is what `write_sql` costs beyond sqlite3 (SQLAlchemy, aiosqlite, the WAL journal).

    python -m bench.analyst_replay [--events 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.common import JetStream, Row, info_row, jetstream
from events.subjects import CARE_STREAM, resident_subject
from projections.analyst.fold import AnalystFold
from projections.analyst.pseudonyms import Pseudonyms
from projections.analyst.replay import replay
from projections.analyst.schema import TABLES
from projections.analyst.stream_reader import read_range
from projections.analyst.writers import Rows, sqlite_cells, sqlite_insert, write_parquet, write_sql
from projections.database import create_engine

NAME = "analyst_replay"
EACH = 20
KEY = b"bench-pseudonym-key-0123456789abcdef"
TEAMS = ("ot-central", "dn-central", "reab-central", "asc-central", "housing-central")
NEEDS = ("mobility and falls", "personal care", "housing", "long-term condition", "social isolation")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def resident_events(n: int) -> list[tuple[str, bytes]]:
    rid = f"0196c000-0000-7000-8000-{n:012d}"
    at = T0 + timedelta(minutes=n)
    events: list[tuple[str, dict[str, Any]]] = [
        ("ResidentRegistered", {"nhs_number": None, "given_name": f"Given{n}", "family_name": f"Family{n % 997}",
                                "date_of_birth": f"{1930 + n % 70}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                                "postcode": f"SO{14 + n % 6} {n % 9}AB", "gp_practice": None,
                                "cluster": ("central", "north", "east", "west", "itchen", "redbridge")[n % 6]}),
        ("ConsentRecorded", {"decision": "granted", "scope": ["all_partners"], "basis": "explicit",
                             "recorded_by": "ch-1"}),
    ]
    for k in range(6):
        events.append(("ContactRecorded", {
            "contact_id": f"{rid}-c{k}", "channel": "phone", "caller": {"relationship": "self", "name": None,
                                                                         "organisation": None},
            "needs": [NEEDS[(n + k) % 5]], "urgency": "routine", "safeguarding": k == 5,
            "summary": f"bench contact {k}", "outcome": "referred" if k < 2 else "advice"}))
    events.append(("DuplicationFlagged", {"flag_id": f"{rid}-f", "rule": "tell_my_story_again", "severity": "medium",
                                          "references": [f"{rid}-c2", f"{rid}-c3"], "explanation": "bench"}))
    first, second = TEAMS[n % 5], TEAMS[(n + 1) % 5]
    r1, r2 = f"{rid}-r1", f"{rid}-r2"
    events += [
        ("ReferralMade", {"referral_id": r1, "from_team": None, "to_team": first, "need": NEEDS[n % 5],
                          "urgency": "soon", "reason": "bench", "contact_id": f"{rid}-c0"}),
        ("ReferralAccepted", {"referral_id": r1, "team": first}),
        ("ReferralHandedOff", {"referral_id": r1, "from_team": first, "to_team": second, "reason": "bench"}),
        ("ReferralAccepted", {"referral_id": r1, "team": second}),
        ("ReferralCompleted", {"referral_id": r1, "team": second, "outcome": "done"}),
        ("ReferralMade", {"referral_id": r2, "from_team": None, "to_team": second, "need": NEEDS[(n + 1) % 5],
                          "urgency": "routine", "reason": "bench", "contact_id": f"{rid}-c1"}),
        ("ReferralAccepted", {"referral_id": r2, "team": second}),
        ("ReferralCompleted", {"referral_id": r2, "team": second, "outcome": "done"}),
        ("AssessmentStarted", {"assessment_id": f"{rid}-a", "team": first, "kind": "falls"}),
        ("AssessmentCompleted", {"assessment_id": f"{rid}-a", "team": first, "kind": "falls", "outcome": "ok"}),
        ("CareCoordinatorAssigned", {"team_id": first, "worker": f"Worker {n % 50}", "replaces": None}),
    ]
    subject = resident_subject(rid)
    out = []
    for k, (kind, data) in enumerate(events):
        moment = (at + timedelta(days=k)).isoformat().replace("+00:00", "Z")
        envelope = {"event_id": f"{rid}-e{k}", "type": kind, "version": 1, "resident_id": rid, "occurred_at": moment,
                    "recorded_at": moment, "actor": {"id": "b", "role": "call_handler", "team_id": None},
                    "correlation_id": rid, "causation_id": None, "data": data}
        out.append((subject, orjson.dumps(envelope)))
    return out


async def write_events(stream: JetStream, total: int) -> float:
    began = time.perf_counter()
    for n in range(total // EACH):
        for subject, payload in resident_events(n):
            await stream.nc.publish(subject, payload)
        if n % 500 == 499:
            await stream.nc.flush()
    await stream.nc.flush()
    deadline = time.monotonic() + 120
    while (await stream.js.stream_info(CARE_STREAM)).state.messages < total:
        if time.monotonic() > deadline:
            raise RuntimeError("not every event reached the stream (core publishes are fire-and-forget)")
        await asyncio.sleep(0.2)
    return time.perf_counter() - began


async def raw_read(stream: JetStream, total: int, keep: int) -> tuple[float, list[tuple[int, bytes]]]:
    began = time.perf_counter()
    kept: list[tuple[int, bytes]] = []
    count = 0
    async for batch in read_range(stream.nc, stream.js, 1, total):
        count += len(batch)
        if len(kept) < keep:
            kept.extend(batch[: keep - len(kept)])
    assert count == total
    return time.perf_counter() - began, kept


def fold_cpu(sample: list[tuple[int, bytes]]) -> tuple[float, float, float]:
    """Wall and process CPU time of decode + fold, and the wall time of `tables()`. CPU time says what the
    fold costs when the machine's other work takes the cores away (the wall time then grows, the CPU not)."""
    fold = AnalystFold(Pseudonyms(KEY))
    began, cpu = time.perf_counter(), time.process_time()
    for seq, payload in sample:
        fold.apply(seq, orjson.loads(payload))
    folded, folded_cpu = time.perf_counter() - began, time.process_time() - cpu
    began = time.perf_counter()
    fold.tables()
    return folded, folded_cpu, time.perf_counter() - began


def raw_bulk_insert(path: Path, rows: Rows, *, times_by_sqlite: bool = False) -> float:
    began = time.perf_counter()
    db = sqlite3.connect(path)
    with db:
        for name, columns in TABLES.items():
            db.execute(f"CREATE TABLE {name} ({', '.join(c for c, _ in columns)})")
            if times_by_sqlite:
                db.executemany(sqlite_insert(name), rows[name])
                continue
            marks = ", ".join("?" * len(columns))
            db.executemany(f"INSERT INTO {name} VALUES ({marks})", sqlite_cells(name, rows[name]))
    db.close()
    return time.perf_counter() - began


async def run(quick: bool = False, events: int | None = None) -> list[Row]:
    total = events or (100_000 if quick else 1_000_000)
    total -= total % EACH
    rows: list[Row] = []
    async with jetstream("analyst") as stream:
        wrote = await write_events(stream, total)
        print(f"  wrote {total:,} events in {wrote:.1f} s", flush=True)
        read_s, sample = await raw_read(stream, total, keep=min(total, 100_000))
        fold_s, fold_cpu_s, tables_s = fold_cpu(sample)
        del sample
        print(f"  raw read {read_s:.1f} s; decode+fold of {min(total, 100_000):,}: {fold_s:.2f} s", flush=True)

        timings: dict[str, float] = {}
        kept: dict[str, Rows] = {}

        async def parquet(rows_: Rows) -> None:
            began = time.perf_counter()
            await asyncio.to_thread(write_parquet, stream.workdir / "parquet", rows_)
            timings["parquet_write"] = time.perf_counter() - began

        began, cpu = time.perf_counter(), time.process_time()
        await replay(stream.nc, stream.js, pseudonyms=Pseudonyms(KEY), destination="parquet", write=parquet,
                     checkpoint=stream.workdir / "p.checkpoint")
        parquet_s, parquet_cpu = time.perf_counter() - began, time.process_time() - cpu
        print(f"  replay into Parquet {parquet_s:.1f} s (write {timings['parquet_write']:.1f} s)", flush=True)

        engine = create_engine(f"sqlite+aiosqlite:///{stream.workdir / 'analyst.db'}")

        async def sql(rows_: Rows) -> None:
            kept["rows"] = rows_
            began = time.perf_counter()
            await write_sql(engine, rows_)
            timings["sql_write"] = time.perf_counter() - began

        began, cpu = time.perf_counter(), time.process_time()
        await replay(stream.nc, stream.js, pseudonyms=Pseudonyms(KEY), destination="sqlite", write=sql,
                     checkpoint=stream.workdir / "s.checkpoint")
        sqlite_s, sqlite_cpu = time.perf_counter() - began, time.process_time() - cpu
        await engine.dispose()
        bulk_s = await asyncio.to_thread(raw_bulk_insert, stream.workdir / "raw.db", kept["rows"])
        bulk_sql_times_s = await asyncio.to_thread(raw_bulk_insert, stream.workdir / "raw-sql-times.db", kept["rows"],
                                                   times_by_sqlite=True)
        row_count = sum(len(v) for v in kept["rows"].values())
        print(f"  replay into SQLite {sqlite_s:.1f} s (write {timings['sql_write']:.1f} s); raw bulk insert of "
              f"{row_count:,} rows {bulk_s:.1f} s", flush=True)

    per = 1e6 / min(total, 100_000)
    rows += [
        info_row(NAME, f"events ({total:,}) written with raw publishes", total / wrote, "events/s"),
        info_row(NAME, "raw stream read (the replay's reader, nothing done)", total / read_s, "events/s"),
        info_row(NAME, "orjson decode + fold, in memory, wall", fold_s * per, "µs/event"),
        info_row(NAME, "orjson decode + fold, in memory, process CPU", fold_cpu_s * per, "µs/event"),
        info_row(NAME, f"fold.tables() for {min(total, 100_000):,} events", tables_s, "s"),
        Row(NAME, "replay into Parquet, whole", parquet_s, "s", 60.0 * total / 1_000_000, None,
            parquet_s <= 60.0 * total / 1_000_000, "<= 60 s per 1M"),
        info_row(NAME, "replay into Parquet, rate", total / parquet_s, "events/s", total / read_s),
        info_row(NAME, "  of which Parquet write", timings["parquet_write"], "s"),
        info_row(NAME, "replay into Parquet, process CPU", parquet_cpu, "s"),
        Row(NAME, "SQLite write (SQLAlchemy) vs raw bulk insert", timings["sql_write"], "s", bulk_s, None,
            timings["sql_write"] <= 2 * bulk_s, "<= 2x"),
        info_row(NAME, "SQLite write vs raw bulk insert with times made by SQLite too", timings["sql_write"], "s",
                 bulk_sql_times_s),
        Row(NAME, "replay into SQLite, whole, vs raw read + raw bulk insert", sqlite_s, "s", read_s + bulk_s, None,
            sqlite_s <= 2 * (read_s + bulk_s), "<= 2x"),
        info_row(NAME, "replay into SQLite, process CPU", sqlite_cpu, "s"),
        info_row(NAME, f"rows written ({row_count:,})", row_count, "rows"),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    from bench.common import table

    began = datetime.now(UTC)
    result = asyncio.run(run(events=args.events))
    print(f"\n{began:%Y-%m-%d %H:%M} UTC, command: python -m bench.analyst_replay --events {args.events}")
    print(table(result))


if __name__ == "__main__":
    main()
