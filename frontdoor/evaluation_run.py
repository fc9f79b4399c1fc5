"""`frontdoor evaluate`: catch the projections up with the stream, read the flags, score them, print."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.evaluation import Score, evaluate
from frontdoor.settings import Settings
from projections import queries

# What the scores are read from. The others (the audit log above all, on a stream of its own that a fresh city
# leaves empty) have no bearing on them, and waiting for them once made `evaluate` wait until it gave up.
SCORED_FROM = ("duplicate_detector", "flags")


async def run_evaluation(settings: Settings, truth: dict[str, Any], wait_s: float) -> list[Score]:
    services = await start_services(settings, run_projections=True)
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        console = Console(stderr=True)
        with console.status("waiting for the detector to catch up with the stream…"):
            while True:
                last = await services.store.last_seq()
                if all(services.runners[name].status.applied_seq >= last for name in SCORED_FROM):
                    await asyncio.sleep(0.5)  # flags raised just now land after `last`: check once more
                    if await services.store.last_seq() == last:
                        break
                if asyncio.get_running_loop().time() > deadline:
                    raise typer.Exit(_behind({n: services.runners[n] for n in SCORED_FROM}, last))
                await asyncio.sleep(0.2)
        async with services.engine.connect() as conn:
            flags = await queries.list_flags(conn, status=None, rule=None, cluster=None, team=None,
                                             resident_id=None, limit=10_000_000)
        return evaluate(truth, flags)
    finally:
        await stop_services(services)


def _behind(runners: Any, last: int) -> int:
    positions = ", ".join(f"{name} {r.status.applied_seq}" for name, r in runners.items())
    typer.echo(f"frontdoor: the projections did not catch up with sequence {last} in time ({positions})", err=True)
    return 1


def print_scores(scores: list[Score], *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"scores": [s.as_json() for s in scores]}, indent=2))
        return
    table = Table(title="Duplicate-work detection against the truth file")
    for column in ("rule", "expected", "flagged", "right", "wrong", "missed", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for s in scores:
        table.add_row(s.rule, str(s.expected), str(s.flagged), str(s.true_positives), str(s.false_positives),
                      str(s.missed), f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}")
    Console(width=max(Console().width, 110)).print(table)
