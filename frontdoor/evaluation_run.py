"""`frontdoor evaluate`: wait until the detector and the flags have caught up with the stream, read the flags,
score them, print.

It works alone (its own projection runners catch up) and beside a running `serve` or `project` (that process
holds the projection leases and applies the events; these runners stand by). Either way the position it waits
on is the one the applier writes down with its rows: the checkpoint row, or this process's runner when it leads.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.evaluation import Scope, Score, evaluate, in_scope
from frontdoor.services import Services
from frontdoor.settings import Settings
from projections import queries

# What the scores are read from. The others (the audit log above all, on a stream of its own that a fresh city
# leaves empty) have no bearing on them, and waiting for them once made `evaluate` wait until it gave up.
SCORED_FROM = ("duplicate_detector", "flags")
POLL_S = 0.25
SETTLE_S = 1.5  # caught up and the stream still for this long: no flag is on its way


@dataclass(frozen=True, slots=True)
class Evaluation:
    scores: list[Score]
    scope: Scope


async def run_evaluation(settings: Settings, truth: dict[str, Any], wait_s: float) -> Evaluation:
    services = await start_services(settings, run_projections=True)
    try:
        await wait_caught_up(services, wait_s)
        async with services.engine.connect() as conn:
            flags = await queries.list_flags(conn, status=None, rule=None, cluster=None, team=None,
                                             resident_id=None, limit=10_000_000)
        _, scope = in_scope(truth, flags)
        return Evaluation(evaluate(truth, flags), scope)
    finally:
        await stop_services(services)


async def applied(services: Services) -> dict[str, int]:
    """How far each scored projection has applied the stream, whichever process applies it."""
    async with services.engine.connect() as conn:
        stored = {name: await queries.checkpoint(conn, name) for name in SCORED_FROM}
    for name in SCORED_FROM:
        runner = services.runners.get(name)
        if runner is not None and runner.leading:  # past events it ignores, it writes its checkpoint lazily
            stored[name] = max(stored[name], runner.status.applied_seq)
    return stored


def _who(services: Services) -> str:
    ours = [name for name in SCORED_FROM if (r := services.runners.get(name)) is not None and r.leading]
    if len(ours) == len(SCORED_FROM):
        return "applied here"
    return "applied here and by another process" if ours else "applied by another process (serve or project)"


async def wait_caught_up(services: Services, wait_s: float) -> None:
    """Until the scored projections have applied the whole stream and it has stayed still (else exit 1)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    still_since: float | None = None
    settled_at = -1
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
                   TextColumn("{task.fields[who]}"), TimeElapsedColumn(), console=Console(stderr=True),
                   refresh_per_second=4, transient=True)
    with bar:
        task = bar.add_task("detector and flags catching up", total=None, who="")
        while True:
            last = await services.store.last_seq()
            positions = await applied(services)
            done = min(positions.values())
            bar.update(task, total=max(last, 1), completed=min(done, last), who=_who(services))
            if done >= last:
                # Flags the detector raises land in the stream after `last`: caught up only once it stays still.
                if last != settled_at:
                    settled_at, still_since = last, loop.time()
                elif still_since is not None and loop.time() - still_since >= SETTLE_S:
                    return
            else:
                settled_at, still_since = -1, None
            if loop.time() > deadline:
                raise typer.Exit(_behind(positions, last, _who(services)))
            await asyncio.sleep(POLL_S)


def _behind(positions: dict[str, int], last: int, who: str) -> int:
    at = ", ".join(f"{name} {seq}" for name, seq in positions.items())
    typer.echo(f"frontdoor: the projections did not catch up with sequence {last} in time ({at}; {who})", err=True)
    return 1


def print_scores(result: Evaluation, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"scores": [s.as_json() for s in result.scores], "scope": result.scope.as_json()},
                              indent=2))
        return
    table = Table(title="Duplicate-work detection against the truth file", caption=result.scope.describe())
    for column in ("rule", "expected", "flagged", "right", "wrong", "missed", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for s in result.scores:
        table.add_row(s.rule, str(s.expected), str(s.flagged), str(s.true_positives), str(s.false_positives),
                      str(s.missed), f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}")
    Console(width=max(Console().width, 110)).print(table)
