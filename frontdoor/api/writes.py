"""What every write route shares: Idempotency-Key replay, ids that repeat on a retry, the command context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from events.ids import derived_id, uuid7
from frontdoor.api.auth import Principal
from frontdoor.api.problems import Problem
from frontdoor.handling import Context
from frontdoor.idempotency import StoredResponse
from frontdoor.services import Services

MAX_KEY = 200


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise Problem(422, "The request is not valid", f"Idempotency-Key must be 1 to {MAX_KEY} characters",
                      code="invalid", errors=[{"field": "Idempotency-Key", "message": "bad length"}])
    return key


def new_id(kind: str, principal: Principal, key: str | None) -> str:
    """A fresh time-ordered id, or with an Idempotency-Key the same id every time the request is retried."""
    return derived_id(kind, principal.sub, key) if key else uuid7()


def context_for(request: Request, principal: Principal, key: str | None, *,
                occurred_at: datetime | None = None) -> Context:
    # The request's id as the RequestContext middleware settled it (issue 14); the header only without it.
    correlation = getattr(request.state, "correlation_id", None) or request.headers.get("x-correlation-id") or uuid7()
    return Context(actor=principal.actor, correlation_id=correlation[:64], idempotency_key=key,
                   occurred_at=occurred_at)


def now() -> datetime:
    return datetime.now(UTC)


async def idempotent(request: Request, principal: Principal, *, status: int,
                     run: Callable[[str | None], Awaitable[dict[str, Any]]]) -> JSONResponse:
    """Runs a write once per Idempotency-Key: a retry gets the first response, a different body is refused."""
    key = idempotency_key(request)
    if key is None:
        return JSONResponse(await run(None), status_code=status)
    keys = services_of(request).idempotency
    slot = keys.slot(principal.sub, f"{request.method} {request.url.path}", key)
    fingerprint = keys.fingerprint(await request.body())
    stored = await keys.find(slot)
    if stored is not None:
        if stored.fingerprint != fingerprint:
            raise Problem(422, "Idempotency-Key reused", "this Idempotency-Key was used for a different request "
                          "body; use a new key for a new request", code="idempotency-key-reused",
                          errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}])
        return JSONResponse(stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"})
    body = await run(key)
    await keys.keep(slot, StoredResponse(fingerprint, status, body))
    return JSONResponse(body, status_code=status)


async def wait_for_read(services: Services, projection: str, min_seq: int | None) -> None:
    if not min_seq:
        return
    ok, applied = await services.wait_for(projection, min_seq)
    if not ok:
        raise Problem(503, "The view is catching up", f"the {projection} view has reached stream sequence {applied}"
                      f" of {min_seq} after {services.settings.read_wait_s:g}s; retry shortly",
                      code="read-model-behind", applied_seq=applied, min_seq=min_seq, behind=min_seq - applied)
