"""Errors once (STYLE §6): every failure leaves as RFC 9457 application/problem+json, naming the field at fault.

- Refusals (domain and application errors) carry their own status and code.
- A dependency that is down or slow (NATS, JetStream, the database) is a 503 with Retry-After, never a 500
  (issue 9: outages answered 500, some after the write had landed).
- Anything else is a 500 problem, answered by `Unexpected` without re-raising: Starlette's outermost error
  middleware re-raises after answering, and uvicorn then closes the connection under the client's next request
  (issue 9: "after any 500 the next request on the same keep-alive connection is reset").
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.errors import StoreUnavailable, UnreadableEvent
from events.subjects import BadSubjectToken
from frontdoor.domain.errors import DomainError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://frontdoor.example/problems/"
RETRY_AFTER = {"Retry-After": "2"}
log = logging.getLogger("frontdoor.api")

# What an outage of a dependency looks like from here: the request may be retried (with its Idempotency-Key).
UNAVAILABLE: tuple[type[Exception], ...] = (StoreUnavailable, NatsError, DBAPIError, PoolTimeout,
                                                TimeoutError, ConnectionError)


class Problem(Exception):
    """An error raised at the edge (auth, lookups, waits) with the fields of a problem document."""

    def __init__(self, status: int, title: str, detail: str, *, code: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.code, self.extra = status, title, detail, code, extra


def problem_body(status: int, title: str, detail: str, *, code: str, instance: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, title: str, detail: str, *, code: str, instance: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = problem_body(status, title, detail, code=code, instance=instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(error: DomainError) -> dict[str, Any]:
    """The same problem object for HTTP and for NATS replies to team commands."""
    errors = [{"field": error.field, "message": error.detail}] if error.field else None
    extra: dict[str, Any] = dict(error.extra)
    return problem_body(error.status, error.title, error.detail, code=error.code, errors=errors, **extra)


def unavailable_problem(exc: BaseException) -> dict[str, Any]:
    """A dependency outage as a problem object (HTTP 503, or a NATS reply), saying which dependency."""
    if isinstance(exc, DBAPIError | PoolTimeout):
        title, code, detail = "The database is unavailable", "database-unavailable", type(exc).__name__
    else:
        title, code = "The event store is unavailable", "store-unavailable"
        detail = str(exc) or type(exc).__name__
    return problem_body(503, title, f"{detail}; nothing was answered from it, retry shortly", code=code)


def unreadable_problem(exc: UnreadableEvent) -> dict[str, Any]:
    return problem_body(409, "This record has an event that cannot be read", f"{exc}. An administrator can mark it "
                        f"superseded: POST /residents/{exc.resident_id}/events/{exc.seq}/supersede",
                        code="unreadable-event", seq=exc.seq)


def _field_of(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_errors(raw: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for e in raw:
        if e.get("type") == "json_invalid":
            # pydantic puts the character position where a field name goes: say it is the body, and where.
            position = next((p for p in e.get("loc", ()) if isinstance(p, int)), None)
            reason = (e.get("ctx") or {}).get("error", "invalid JSON")
            message = f"not valid JSON ({reason}" + (f" at position {position})" if position is not None else ")")
            errors.append({"field": "body", "message": message, "type": "json_invalid"})
            continue
        errors.append({"field": _field_of(tuple(e.get("loc", ()))),
                       "message": str(e.get("msg", "invalid")).removeprefix("Value error, "), "type": e.get("type")})
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return f"{first['field']}: {first['message']}", errors


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = validation_errors(list(exc.errors()))
        return problem_response(422, "The request is not valid", detail, code="invalid",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(DomainError)
    async def domain(request: Request, exc: DomainError) -> JSONResponse:
        body = domain_problem(exc) | {"instance": request.url.path}
        return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON,
                            headers=RETRY_AFTER if exc.status == 503 else None)

    @app.exception_handler(Problem)
    async def edge(request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else RETRY_AFTER if exc.status == 503 else None
        return problem_response(exc.status, exc.title, exc.detail, code=exc.code, instance=request.url.path,
                                headers=headers, **exc.extra)

    @app.exception_handler(UnreadableEvent)
    async def unreadable(request: Request, exc: UnreadableEvent) -> JSONResponse:
        body = unreadable_problem(exc) | {"instance": request.url.path}
        return JSONResponse(body, status_code=409, media_type=PROBLEM_JSON)

    @app.exception_handler(BadSubjectToken)
    async def bad_id(request: Request, exc: BadSubjectToken) -> JSONResponse:
        return problem_response(404, "Not found", str(exc), code="not-found", instance=request.url.path)

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
        return problem_response(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail),
                                code=f"http-{exc.status_code}", instance=request.url.path,
                                headers=dict(exc.headers) if exc.headers else None)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: a dependency is unavailable: %r", request.method, request.url.path, exc)
    body = unavailable_problem(exc) | {"instance": request.url.path}
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON, headers=RETRY_AFTER)


class Unexpected:
    """Innermost safety net for exceptions nothing else handles: a 500 problem, logged once, connection kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            response = problem_response(500, "Something went wrong", "the front door failed to answer this request; "
                                        "it has been logged", code="internal", instance=scope.get("path"))
            await response(scope, receive, send)


class BodyLimit:
    """Refuses a request body over `limit` bytes with 413 before anything parses it (issue 10). The body is read
    here (at most `limit` bytes are held) and handed on whole, so a chunked body is measured as well."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        whole: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, "Request body too large", f"a request body may be at most {self.limit} "
                                    "bytes", code="http-413", instance=scope.get("path"),
                                    headers={"Connection": "close"})
        await response(scope, receive, send)
