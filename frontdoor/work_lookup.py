"""Finding the resident a piece of work belongs to, for commands that name only the work (referral,
assessment). Shared by the HTTP routes and the NATS team commands."""

from __future__ import annotations

from frontdoor.domain.errors import WorkNotFound
from frontdoor.services import Services
from projections import queries


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


async def team_holding(services: Services, resident_id: str, referral_id: str) -> str:
    """The team that holds a referral now (staff acting for a team act for that one)."""
    referral = (await services.states.load(resident_id)).state.referrals.get(referral_id)
    if referral is None:
        raise WorkNotFound(f"no referral {referral_id}")
    return referral.to_team
