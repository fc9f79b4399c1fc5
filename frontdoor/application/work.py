"""Finding the resident a piece of work belongs to, for commands that name only the work (referral,
assessment, flag), and checking a team named in a command is in the directory."""

from __future__ import annotations

from frontdoor.domain.errors import InvalidCommand, WorkNotFound
from frontdoor.services import Services
from projections import queries


def known_team(services: Services, team_id: str, field: str) -> None:
    if services.teams.get(team_id) is None:
        raise InvalidCommand(f"no team {team_id} in the directory (see GET /teams)", field=field)


async def resident_of(services: Services, kind: str, work_id: str) -> str:
    """From the caseload read model; if it is not there yet, wait (bounded) until the read model has caught up
    with the stream as it is now, so work made a moment ago is found (read your writes)."""
    find = queries.resident_of_referral if kind == "referral" else queries.resident_of_assessment
    async with services.engine.connect() as conn:
        found = await find(conn, work_id)
    if found is None:
        await services.wait_for("caseload", await services.store.last_seq())
        async with services.engine.connect() as conn:
            found = await find(conn, work_id)
    if found is None:
        raise WorkNotFound(f"no {kind} {work_id}")
    return found
