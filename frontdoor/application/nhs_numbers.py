"""The NHS-number claim around a registration or a correction, and its compensation, in one place.

A number is claimed in the KV bucket before the event that carries it is appended (DESIGN §3). The claim is
ours, or another registered resident's (409 naming them), or an orphan whose registration never landed: taken
over only when it is older than any registration in flight could be (see `events.claims`).
"""

from __future__ import annotations

import logging

from events.claims import NhsNumberClaims
from events.ports import EventStore
from frontdoor.domain.errors import NhsNumberTaken

log = logging.getLogger("frontdoor.nhs_numbers")

# A registration in flight lands within the store's request timeout (5 s) times the command retries (5); a
# claim older than this with nothing in its resident's stream was left by a crash.
ORPHAN_AFTER_S = 60.0


async def claim(claims: NhsNumberClaims, store: EventStore, number: str, resident_id: str) -> bool:
    """Claims `number` for `resident_id`. True if this call made (or took over) the claim, False if it was
    already this resident's; raises `NhsNumberTaken` if it belongs to someone else."""
    held = await claims.claim(number, resident_id)
    if held.resident_id == resident_id:
        return held.created
    if await store.read_resident(held.resident_id):
        raise NhsNumberTaken(f"NHS number {number} is already registered to resident {held.resident_id}",
                             field="nhs_number", resident_id=held.resident_id)
    if held.age_s() < ORPHAN_AFTER_S or await claims.take_over(held, resident_id) is None:
        raise NhsNumberTaken(f"NHS number {number} is being registered by someone else just now; search for the "
                             "resident in a moment", field="nhs_number")
    log.warning("NHS number %s: took over the claim of %s, whose registration never landed", number,
                held.resident_id)
    return True


async def release(claims: NhsNumberClaims, number: str, resident_id: str, *, why: str) -> None:
    """Frees a claim that no event carries (a refused registration, a number corrected away). A failure is
    logged with the resident and the number, never swallowed: `frontdoor check` lists what it leaves behind."""
    try:
        await claims.release(number, resident_id)
    except Exception:
        log.exception("could not release NHS number %s of resident %s (%s); `frontdoor check` will report it",
                      number, resident_id, why)
