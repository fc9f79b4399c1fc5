"""`GET /residents/{id}/fhir`: the joined-up view as a FHIR R4B Bundle (DESIGN §9).

The view is fetched through the residents route's own function, so the same roles, team relationship, consent
check and audit apply (and `min_seq` / `as_of` work the same); only the representation differs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from frontdoor.api import residents
from frontdoor.api.auth import Principal
from frontdoor.api.writes import services_of
from frontdoor.fhir_bundle import resident_bundle

router = APIRouter(tags=["residents"])
FHIR_JSON = "application/fhir+json"


@router.get("/residents/{resident_id}/fhir", summary="The joined-up view as a FHIR R4B Bundle (audited)",
            response_class=Response, responses={200: {"content": {FHIR_JSON: {}}}})
async def fhir_view(resident_id: str, request: Request, who: Annotated[Principal, Depends(residents.READERS)],
                    min_seq: Annotated[int | None, residents.SEQ] = None,
                    as_of: Annotated[datetime | None, Query(description="fold history up to this moment")] = None,
                    ) -> Response:
    doc = await residents.view(resident_id, request, who, min_seq=min_seq, as_of=as_of)
    bundle = resident_bundle(doc, services_of(request).teams)
    return Response(orjson.dumps(bundle), media_type=FHIR_JSON)
