"""Use case: the joined-up view as a FHIR R4B Bundle (DESIGN §9). The same read as `reading.view` (roles, a
team's relationship and consent, `min_seq`, `as_of`, the audit), only another representation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from frontdoor.application import reading
from frontdoor.application.who import Asked, Principal
from frontdoor.fhir_bundle import resident_bundle
from frontdoor.services import Services


async def resident_fhir(services: Services, who: Principal, asked: Asked, resident_id: str, *,
                        min_seq: int | None = None, as_of: datetime | None = None) -> dict[str, Any]:
    doc = await reading.view(services, who, asked, resident_id, min_seq=min_seq, as_of=as_of, what="resident:fhir")
    return resident_bundle(doc, services.teams)
