"""`GET /residents/{id}/fhir`: the joined-up view as a FHIR R4B Bundle (DESIGN §9), with the same roles, team
relationship, consent check and audit as the view itself (and `min_seq` / `as_of`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from frontdoor.api.auth import Principal, requires
from frontdoor.api.writes import asked, services_of
from frontdoor.application.fhir import resident_fhir
from frontdoor.application.who import STAFF_ROLES

router = APIRouter(tags=["residents"])
FHIR_JSON = "application/fhir+json"
READERS = requires(*STAFF_ROLES, "team")


@router.get("/residents/{resident_id}/fhir", summary="The joined-up view as a FHIR R4B Bundle (audited)",
            response_class=Response, responses={200: {"content": {FHIR_JSON: {}}}})
async def fhir_view(resident_id: Annotated[UUID, Path()], request: Request,
                    who: Annotated[Principal, Depends(READERS)],
                    min_seq: Annotated[int | None, Query(ge=1)] = None,
                    as_of: Annotated[datetime | None, Query(description="fold history up to this moment")] = None,
                    ) -> Response:
    bundle = await resident_fhir(services_of(request), who, await asked(request), str(resident_id),
                                 min_seq=min_seq, as_of=as_of)
    return Response(orjson.dumps(bundle), media_type=FHIR_JSON)
