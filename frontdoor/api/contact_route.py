"""POST /residents/{resident_id}/contacts, the front door's busiest write, without FastAPI's per-request machinery
when the request is well formed (issue 15).

Measured under load, FastAPI's request handler (reading the body, solving the dependencies, validating the
parameters, serialising the answer) and its route matching over the included routers took half of the API's CPU
per contact, and the API's CPU per contact is what bounds how many contacts a second one process records. This
route answers the same requests with the same parts: the same auth check (`WRITERS`), the same body model, the
same use case (`application.residents.record_contact`), the same answer (`respond`); an exception goes to the
same problem handlers, and the request passes through the same middleware (correlation id, latency, access log,
body limit).

It only ever answers a request the documented route would accept. A content type other than JSON, a body that
is not JSON or does not validate, a resident id that is not a UUID: each goes on, body and all, to the documented
FastAPI route (the one in the OpenAPI document), which answers it exactly as before, problem document and all.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdoor.api.residents import WRITERS
from frontdoor.api.writes import asked, respond, services_of
from frontdoor.application import residents
from frontdoor.application.inputs import ContactBody

PATH = "/residents/{resident_id}/contacts"
_PASSED_ON = "frontdoor.contact_route.passed_on"  # set in the scope: the documented route answers this one
_UUID = TypeAdapter(UUID)  # what FastAPI validates the path parameter with


class ContactRoute(Route):
    """Placed before the documented routes. It gives way (no match) to a request it has passed on."""

    def __init__(self, documented: ASGIApp) -> None:
        """`documented`: the router holding the documented route (the app's), which this route hands on to."""
        super().__init__(PATH, _RecordContact(documented), methods=["POST"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get(_PASSED_ON):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self  # the latency histogram and the access log name the route template
        return match, child


class _RecordContact:
    """A plain ASGI app (not a Starlette endpoint), so that it can hand a request on with its body."""

    def __init__(self, documented: ASGIApp) -> None:
        self._documented = documented

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        accepted = _accepted(request, raw)
        if accepted is None:
            scope[_PASSED_ON] = True
            await self._documented(scope, _replaying(raw, receive), send)
            return
        resident_id, body = accepted
        who = await WRITERS(request)
        answer = await residents.record_contact(services_of(request), who, await asked(request), str(resident_id),
                                                body)
        await respond(answer)(scope, receive, send)


def _accepted(request: Request, raw: bytes) -> tuple[UUID, ContactBody] | None:
    """The path's resident id and the body, when FastAPI would accept both as they are; None otherwise."""
    if not raw or not _is_json(request.headers.get("content-type")):
        return None
    try:
        resident_id = _UUID.validate_python(request.path_params["resident_id"])
        document: Any = json.loads(raw)  # as FastAPI parses a body (Request.json)
        return resident_id, ContactBody.model_validate(document)
    except (ValueError, ValidationError):  # json.JSONDecodeError is a ValueError
        return None


def _is_json(content_type: str | None) -> bool:
    """The plain case of what FastAPI reads as JSON (application/json, application/*+json, with parameters);
    anything unusual is left to FastAPI."""
    if content_type is None:
        return False
    kind = content_type.partition(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _replaying(raw: bytes, receive: Receive) -> Receive:
    whole: list[Message] = [{"type": "http.request", "body": raw, "more_body": False}]

    async def replay() -> Message:
        return whole.pop() if whole else await receive()

    return replay
