"""Runs the benchmarks and prints one table: each figure beside its same-run baseline, the ratio and the goal.

    python -m bench.run_all                 # everything, full size (about 10 to 15 minutes on 2 cores)
    python -m bench.run_all --quick         # a short run of everything
    python -m bench.run_all --only store_append --only http_contact
    python -m bench.run_all --only projection_catchup --profile   # adds cProfile's top costs of a catch-up
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import machine_speed
from bench.common import Row, table

# In the order a full run takes them, the latency benchmarks before the ones that load Splink, DuckDB and pandas.
# Each benchmark's module is imported when its turn comes, not all at start: with every module imported, the team
# feed's p99 at 500/s was over 50 ms in 6 of 9 runs of `--only team_feed`, against none of 10 runs of the same
# functions from a lighter process (2026-12-01, docs/BENCHMARKS.md; why the heavier process does worse was not found).
BENCHMARKS = ("store_append", "command_path", "projection_catchup", "http_contact", "team_feed", "flag_latency",
              "city_reads", "detector_quality", "splink_baseline", "detector_throughput", "analyst_replay",
              "ui_render")


async def _run_one(name: str, quick: bool, profile: bool) -> list[Row]:
    module = importlib.import_module(f"bench.{name}")
    if name == "projection_catchup":
        rows: list[Row] = await module.run(quick, profile)
    else:
        rows = await module.run(quick)
    return rows


async def run(names: list[str], quick: bool, profile: bool) -> list[Row]:
    # The machine's speed before and after: absolute goals (seconds, milliseconds) depend on it, ratios do not.
    rows: list[Row] = [machine_speed.row("before the run")]
    print(f"== machine: {rows[0].figure:.2f} s for the loop of bench.machine_speed", flush=True)
    for name in names:
        began = time.perf_counter()
        # Other work on the machine skews timings: the load average before and after says how much there was.
        print(f"== {name} ({'quick' if quick else 'full'}), load average {_load()}", flush=True)
        rows.extend(await _run_one(name, quick, profile))
        print(f"== {name} done in {time.perf_counter() - began:.0f}s, load average {_load()}", flush=True)
    rows.append(machine_speed.row("after the run"))
    return rows


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description="frontdoor benchmarks, each against a baseline in the same run")
    parser.add_argument("--quick", action="store_true", help="a short run (smaller counts, shorter loads)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--profile", action="store_true", help="profile a projection catch-up (cProfile)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    began = datetime.now(UTC)
    rows = asyncio.run(run(names, args.quick, args.profile))
    print()
    print(f"{began:%Y-%m-%d %H:%M} UTC, python {platform.python_version()}, {platform.machine()}, "
          f"command: python -m bench.run_all {' '.join(sys.argv[1:])}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"ratio": r.ratio} for r in rows], indent=2))
    missed = [r for r in rows if r.met is False]
    if missed:
        print(f"\n{len(missed)} goal(s) missed: " + "; ".join(f"{r.bench}: {r.metric}" for r in missed))


if __name__ == "__main__":
    main()
