"""Errors once (STYLE §6): every failure leaves as RFC 9457 application/problem+json, naming the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.errors import StoreUnavailable
from frontdoor.domain.errors import DomainError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://frontdoor.example/problems/"


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


def _field_of(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_of(tuple(e.get("loc", ()))),
                   "message": str(e.get("msg", "invalid")).removeprefix("Value error, "),
                   "type": e.get("type")} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        if any(e["type"] == "json_invalid" for e in errors):
            detail = "the request body is not valid JSON"
        else:
            detail = f"{first['field']}: {first['message']}"
        return problem_response(422, "The request is not valid", detail, code="invalid",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(DomainError)
    async def domain(request: Request, exc: DomainError) -> JSONResponse:
        body = domain_problem(exc) | {"instance": request.url.path}
        return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON)

    @app.exception_handler(Problem)
    async def edge(request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.title, exc.detail, code=exc.code, instance=request.url.path,
                                headers=headers, **exc.extra)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return problem_response(503, "The event store is unavailable", str(exc), code="store-unavailable",
                                instance=request.url.path, headers={"Retry-After": "2"})

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem_response(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail),
                                code=f"http-{exc.status_code}", instance=request.url.path)
