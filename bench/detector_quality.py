"""Issue 5: how well the duplicate-work detector does on a synthetic city with known answers.

    frontdoor demo-city --residents 20000 --seed 61130 --truth truth.json
    frontdoor evaluate --truth truth.json --json

Both are the real commands, run as separate processes with FRONTDOOR_NATS_URL unset (the embedded nats-server,
data in a temporary FRONTDOOR_DATA_DIR, SQLite read models). Before the command `evaluate` runs, this module
catches every projection up in-process (`bootstrap.projection_runners`, as `frontdoor project` runs them) and
scores the same flags with the same function (`frontdoor.evaluation.evaluate`); `evaluate` then only has to
confirm. Its JSON is what is reported; if it fails, its error is printed and the in-process scores are reported
instead (marked as such).

Goals: precision >= 0.97 and recall >= 0.95 for every rule and for identity linking. The same city's
registrations and scores are kept for `bench.splink_baseline` (Splink on the same records), so a run of both
writes the city once.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.city_reads import cli_env, frontdoor_cli, rebuild_all, write_city
from bench.common import Row, info_row, temp_dir
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.evaluation import Score, evaluate
from frontdoor.settings import Settings
from projections import queries
from projections.tables import residents

NAME = "detector_quality"
# Issue 10: a seed no test and no earlier run used (issue 5's runs used 424242), on the city whose duplicate people
# carry nicknames from the generator's own list, initials, names cut short and digits swapped in birth dates.
SEED = 61130
FULL = 20_000
QUICK = 2_000
PRECISION_GOAL = 0.97
RECALL_GOAL = 0.95
EVALUATE_WAIT_S = 30  # the projections have caught up already: the command only has to see that


@dataclass(frozen=True, slots=True)
class ScoredCity:
    residents: int
    events: int
    truth: dict[str, Any]
    scores: list[Score]
    registrations: list[dict[str, Any]]  # the read model `residents`: id, names, date of birth, postcode, NHS no.
    catch_up_s: float  # every projection from zero, in-process
    source: str  # where the reported scores come from


_CITIES: dict[int, ScoredCity] = {}


async def scored_city(size: int) -> ScoredCity:
    """Writes, projects and scores the city of SEED and this size (once per process)."""
    if size not in _CITIES:
        _CITIES[size] = await _score(size)
    return _CITIES[size]


async def _score(size: int) -> ScoredCity:
    with temp_dir(NAME) as workdir:
        data = workdir / "data"
        env = cli_env(None, data)
        truth_path = workdir / "truth.json"
        city = await write_city(env, size, SEED, truth_path)
        truth: dict[str, Any] = json.loads(truth_path.read_text())
        services = await start_services(Settings(nats_url=None, data_dir=data, database_url=None),
                                        run_projections=False)
        try:
            done = await rebuild_all(services)
            print(f"[{NAME}] every projection caught up in-process: {done.events} events (flags included) in "
                  f"{done.seconds:.1f}s")
            async with services.engine.connect() as conn:
                flags = await queries.list_flags(conn, status=None, rule=None, cluster=None, team=None,
                                                 resident_id=None, limit=10_000_000)
                people = [dict(r) for r in (await conn.execute(select(
                    residents.c.resident_id, residents.c.given_name, residents.c.family_name,
                    residents.c.date_of_birth, residents.c.postcode, residents.c.nhs_number))).mappings()]
        finally:
            await stop_services(services)
        ours = evaluate(truth, flags)
        scores, source = await _command_scores(env, truth_path, ours)
    return ScoredCity(size, city.events, truth, scores, people, done.seconds, source)


async def _command_scores(env: dict[str, str], truth_path: Path, ours: list[Score]) -> tuple[list[Score], str]:
    """`frontdoor evaluate --json`'s scores, checked against the in-process ones; these if it fails."""
    began = time.perf_counter()
    code, out, err = await frontdoor_cli(env, "evaluate", "--truth", str(truth_path), "--json", "--wait",
                                         str(EVALUATE_WAIT_S), limit_s=EVALUATE_WAIT_S + 120)
    took = time.perf_counter() - began
    if code != 0:
        print(f"[{NAME}] frontdoor evaluate FAILED (exit {code}, {took:.0f}s): {err.strip().splitlines()[-1]}")
        print(f"[{NAME}] reporting the in-process scores (the same function on the same flags)")
        return ours, "in-process: frontdoor evaluate failed"
    fields = ("rule", "expected", "flagged", "true_positives", "false_positives", "missed")
    scores = [Score(*(s[f] for f in fields)) for s in json.loads(out)["scores"]]
    agree = "agree with" if scores == ours else "DIFFER from"
    print(f"[{NAME}] frontdoor evaluate --json ({took:.0f}s): its scores {agree} the in-process ones")
    return scores, "frontdoor evaluate"


def quality_rows(name: str, scores: list[Score], source: str) -> list[Row]:
    rows = []
    for s in scores:
        label = "identity linking" if s.rule == "possible_duplicate_resident" else s.rule
        counts = f"{s.true_positives} right, {s.false_positives} wrong, {s.missed} missed of {s.expected}"
        rows.append(Row(name, f"{label}: precision ({counts})", s.precision, "fraction", None, None,
                        s.precision >= PRECISION_GOAL, f">= {PRECISION_GOAL:g}"))
        rows.append(Row(name, f"{label}: recall", s.recall, "fraction", None, None, s.recall >= RECALL_GOAL,
                        f">= {RECALL_GOAL:g}"))
        rows.append(info_row(name, f"{label}: F1 ({source})", s.f1, "fraction"))
    return rows


async def run(quick: bool = False) -> list[Row]:
    city = await scored_city(QUICK if quick else FULL)
    truth = city.truth
    print(f"[{NAME}] city of {city.residents} residents, {city.events} events: {len(truth['duplicate_work'])} "
          f"injected duplicated work, {len(truth['duplicate_people'])} duplicate people, "
          f"{len(truth['near_misses'])} near misses")
    for s in city.scores:
        print(f"[{NAME}]   {s.rule:28} expected {s.expected:4}  flagged {s.flagged:4}  right {s.true_positives:4}  "
              f"wrong {s.false_positives:3}  missed {s.missed:3}  P {s.precision:.3f}  R {s.recall:.3f}  "
              f"F1 {s.f1:.3f}")
    return quality_rows(NAME, city.scores, city.source)


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))
