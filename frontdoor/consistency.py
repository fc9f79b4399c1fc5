"""`frontdoor check`: what the two-write registration can leave behind. An NHS-number claim is written before the
registration is appended; a crash in between leaves a claim whose resident never registered (it is taken over by
the next registration of that number). This lists such claims, claims whose resident now has another number, and
(from the stream itself, whatever the claims say) NHS numbers that more than one resident holds."""

from __future__ import annotations

from dataclasses import dataclass

from rich.progress import Progress

from events.catalogue import ResidentDetailsCorrected, ResidentRegistered
from frontdoor.services import Services


@dataclass(frozen=True, slots=True)
class ClaimProblem:
    number: str
    resident_id: str
    problem: str


async def check_claims(services: Services, *, progress: bool = True) -> tuple[int, list[ClaimProblem]]:
    numbers = await services.claims.numbers()
    problems: list[ClaimProblem] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("checking NHS-number claims", total=len(numbers))
        for number in numbers:
            claim = await services.claims.owner(number)
            bar.advance(task)
            if claim is None:
                continue
            current = None
            for recorded in await services.store.read_resident(claim.resident_id):
                if isinstance(recorded.event, ResidentRegistered | ResidentDetailsCorrected) \
                        and recorded.event.nhs_number is not None:
                    current = recorded.event.nhs_number
            if current is None:
                problems.append(ClaimProblem(number, claim.resident_id, "no registration with this number landed"))
            elif current != number:
                problems.append(ClaimProblem(number, claim.resident_id, f"the resident now has {current}"))
    return len(numbers), problems


async def duplicate_numbers(services: Services, *, progress: bool = True) -> list[ClaimProblem]:
    """Every NHS number that the stream gives to more than one resident, whatever the claims say (a race the
    claims did not stop must still be found). Reads only registrations and corrections."""
    last = await services.store.last_seq()
    holder: dict[str, str] = {}  # resident -> the number it has now
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("reading registrations from the stream", total=last)
        async for recorded in services.store.read_all():
            bar.update(task, completed=recorded.seq)
            event = recorded.event
            if isinstance(event, ResidentRegistered | ResidentDetailsCorrected) and event.nhs_number is not None:
                holder[recorded.resident_id] = event.nhs_number
    residents: dict[str, list[str]] = {}
    for resident_id, number in holder.items():
        residents.setdefault(number, []).append(resident_id)
    return [ClaimProblem(number, ", ".join(sorted(ids)), f"registered to {len(ids)} residents")
            for number, ids in sorted(residents.items()) if len(ids) > 1]
