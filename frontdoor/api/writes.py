"""What every route shares: the services, and the request as the application layer sees it (who is asking is
the auth dependency's job): correlation id, stated purpose, and the Idempotency-Key bound to this very request."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from events.ids import uuid7
from frontdoor.api.problems import Problem
from frontdoor.application.answers import Answer
from frontdoor.application.who import Asked, Idempotency
from frontdoor.idempotency import IdempotencyKeys
from frontdoor.services import Services

MAX_KEY = 200


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def correlation_of(request: Request) -> str:
    """The request's id as the RequestContext middleware settled it (issue 14); the header only without it."""
    settled = getattr(request.state, "correlation_id", None)
    return str(settled or request.headers.get("x-correlation-id") or uuid7())[:64]


async def asked(request: Request) -> Asked:
    return Asked(correlation_id=correlation_of(request), purpose=request.headers.get("x-purpose"),
                 idempotency=await _idempotency(request))


async def _idempotency(request: Request) -> Idempotency | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise Problem(422, "The request is not valid", f"Idempotency-Key must be 1 to {MAX_KEY} characters",
                      code="invalid", errors=[{"field": "Idempotency-Key", "message": "bad length"}])
    fingerprint = IdempotencyKeys.fingerprint(request.method.encode(), request.url.path.encode(),
                                              request.url.query.encode(), await request.body())
    return Idempotency(key, fingerprint)


def respond(answer: Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
