"""Runs the benchmarks and prints one table: each figure beside its same-run baseline, the ratio and the goal.

    python -m bench.run_all                 # everything, full size (about 10 to 15 minutes on 2 cores)
    python -m bench.run_all --quick         # a short run of everything
    python -m bench.run_all --only store_append --only http_contact
    python -m bench.run_all --only projection_catchup --profile   # adds cProfile's top costs of a catch-up
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    analyst_replay,
    city_reads,
    command_path,
    detector_quality,
    detector_throughput,
    flag_latency,
    http_contact,
    projection_catchup,
    splink_baseline,
    store_append,
    team_feed,
    ui_render,
)
from bench.common import Row, table

Bench = Callable[[bool, bool], Awaitable[list[Row]]]
BENCHMARKS: dict[str, Bench] = {
    store_append.NAME: lambda quick, _profile: store_append.run(quick),
    command_path.NAME: lambda quick, _profile: command_path.run(quick),
    projection_catchup.NAME: lambda quick, profile: projection_catchup.run(quick, profile),
    http_contact.NAME: lambda quick, _profile: http_contact.run(quick),
    flag_latency.NAME: lambda quick, _profile: flag_latency.run(quick),
    city_reads.NAME: lambda quick, _profile: city_reads.run(quick),
    detector_quality.NAME: lambda quick, _profile: detector_quality.run(quick),
    splink_baseline.NAME: lambda quick, _profile: splink_baseline.run(quick),  # the same city as detector_quality
    detector_throughput.NAME: lambda quick, _profile: detector_throughput.run(quick),
    analyst_replay.NAME: lambda quick, _profile: analyst_replay.run(quick),
    ui_render.NAME: lambda quick, _profile: ui_render.run(quick),
    team_feed.NAME: lambda quick, _profile: team_feed.run(quick),
}


async def run(names: list[str], quick: bool, profile: bool) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        began = time.perf_counter()
        # Other work on the machine skews timings: the load average before and after says how much there was.
        print(f"== {name} ({'quick' if quick else 'full'}), load average {_load()}", flush=True)
        rows.extend(await BENCHMARKS[name](quick, profile))
        print(f"== {name} done in {time.perf_counter() - began:.0f}s, load average {_load()}", flush=True)
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
