"""Writing the planned city through the real command path: the NHS-number claim the API makes, then
`CommandHandler.handle` for every step, with the story's time as `occurred_at`.

Many residents are written at once (each one's own commands in order), so the rate approaches the store's.
Every step carries an idempotency key made from the city and the step, which fixes its event ids: writing
the same city again finds each event already in the resident's stream and writes nothing new.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from frontdoor.application.planned import write_step
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.demo_city.plan import City, ResidentPlan, plan_city
from frontdoor.domain import commands as c
from frontdoor.handling import Context
from frontdoor.services import Services
from frontdoor.settings import Settings

log = logging.getLogger("frontdoor.demo_city")
IN_FLIGHT = 64  # residents written at once: enough to keep JetStream busy, few enough to stay fair


@dataclass(frozen=True, slots=True)
class CityReport:
    residents: int
    events: int  # written by this run (0 when the same city was already there)
    already_there: int  # steps found in the stream from an earlier run
    seconds: float
    nhs_numbers_taken: int = 0  # numbers another resident (another city) already holds: registered without
    truth_path: Path | None = None

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        again = f", {self.already_there} already there" if self.already_there else ""
        taken = f", {self.nhs_numbers_taken} NHS numbers already taken" if self.nhs_numbers_taken else ""
        truth = f"; truth in {self.truth_path}" if self.truth_path else ""
        return (f"{self.residents} residents, {self.events} events in {self.seconds:.1f} s "
                f"({self.events_per_s:,.0f} events/s){again}{taken}{truth}")


@dataclass
class _Tally:
    events: int = 0
    already_there: int = 0
    taken: int = 0


def city_bar(console: Console, progress: bool = True) -> Progress:
    """Residents written, events and their rate, time left: within 80 columns at 100,000 residents (Rich cuts a
    line wider than the terminal, and the counts went first: "100000/10… residents")."""
    return Progress(TextColumn("{task.description}"), BarColumn(bar_width=12), MofNCompleteColumn(),
                    TextColumn("residents,"), TextColumn("{task.fields[events]:,} events, {task.fields[rate]:,.0f}/s"),
                    TimeRemainingColumn(), console=console, disable=not progress, refresh_per_second=4)


async def write_city(services: Services, *, residents: int, seed: int, truth_path: Path | None = None,
                     progress: bool = True, today: date | None = None, in_flight: int = IN_FLIGHT) -> CityReport:
    """Plans the city for (seed, residents, today: default the current UTC day) and writes it; with
    `truth_path`, writes the injected duplication there as JSON once the city is in the stream."""
    city = plan_city(seed=seed, residents=residents, teams=services.teams, today=today or datetime.now(UTC).date())
    tally = _Tally()
    started = time.perf_counter()
    bar = city_bar(Console(stderr=True), progress)
    with bar:
        task = bar.add_task(f"city {seed}", total=residents, events=0, rate=0.0)

        def done() -> None:
            rate = tally.events / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=1, events=tally.events, rate=rate)

        await _write_all(services, city, tally, in_flight, done)
    seconds = time.perf_counter() - started
    if truth_path is not None:
        await asyncio.to_thread(_write_json, truth_path, city.truth().to_json())
    return CityReport(residents, tally.events, tally.already_there, seconds, tally.taken, truth_path)


async def _write_all(services: Services, city: City, tally: _Tally, in_flight: int,
                     done: Callable[[], None]) -> None:
    # The later record of a pair waits for the earlier one's registration, so the stream tells the story in
    # order (a possible duplicate is registered after the person it resembles). The earlier record always has
    # the lower index and takes its slot first, so waiting never starves the semaphore.
    registered = {city.resident_id(role.partner): asyncio.Event() for role in city.roles.values()
                  if role.second and role.partner is not None}
    slots = asyncio.Semaphore(in_flight)

    async def one(index: int) -> None:
        try:
            plan = city.resident(index)
            if plan.after is not None:
                await registered[plan.after].wait()
            await _write_resident(services, plan, tally, registered.get(plan.resident_id))
            done()
        finally:
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:  # one failure stops the rest and is raised, never swallowed
            for index in range(city.size):
                await slots.acquire()
                group.create_task(one(index), name=f"demo-resident-{index}")
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure; the residents in flight with it were cancelled


async def _write_resident(services: Services, plan: ResidentPlan, tally: _Tally,
                          registered: asyncio.Event | None) -> None:
    for step in plan.steps:
        command = step.command
        context = Context(actor=step.actor, correlation_id=step.correlation_id, idempotency_key=step.key,
                          occurred_at=command.at)
        outcome = await write_step(services, plan.resident_id, command, context)
        if outcome.replayed:
            tally.already_there += 1
        else:
            tally.events += len(outcome.events)
        if isinstance(command, c.RegisterResident) and command.nhs_number and outcome.events \
                and getattr(outcome.events[0], "nhs_number", None) is None:
            tally.taken += 1  # another city's resident holds it: registered without
        if registered is not None and isinstance(command, c.RegisterResident):
            registered.set()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


async def run_demo_city(settings: Settings, *, residents: int, seed: int, truth_path: Path | None) -> CityReport:
    """`frontdoor demo-city`: services without projections (the writer needs none), the city, then stop."""
    services = await start_services(settings, run_projections=False)
    try:
        return await write_city(services, residents=residents, seed=seed, truth_path=truth_path)
    finally:
        await stop_services(services)
