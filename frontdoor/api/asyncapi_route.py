"""`GET /asyncapi.json`: the NATS contract of team systems (DESIGN §9), beside `/openapi.json`. No token: like the
OpenAPI document it says what is offered, not anything about residents."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter

from frontdoor.asyncapi import asyncapi_document

router = APIRouter(tags=["contracts"])


@cache
def _document() -> dict[str, Any]:
    return asyncapi_document()


@router.get("/asyncapi.json", summary="The AsyncAPI document of the team interface (NATS)")
async def asyncapi() -> dict[str, Any]:
    return _document()
