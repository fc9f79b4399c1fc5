"""The call-handler pages (server-rendered, no script): sign in, find or register a resident, and (in
`resident_pages`) the joined-up view with its forms. Signed in by the `frontdoor_token` cookie, which the API's
own auth reads; every check and write is the API's."""

from __future__ import annotations

import re
import time
from importlib import resources
from typing import Annotated
from urllib.parse import quote

import jwt
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from frontdoor.api.auth import Principal, requires, verify_token
from frontdoor.api.problems import Problem
from frontdoor.api.writes import asked, services_of
from frontdoor.application import reading, residents
from frontdoor.application.who import STAFF_ROLES
from frontdoor.domain.errors import DomainError, NhsNumberTaken
from frontdoor.ui import forms
from frontdoor.ui.rendering import COOKIE, HEADERS, page, render

router = APIRouter(include_in_schema=False)
READERS = requires(*STAFF_ROLES, "team")
WRITERS = requires(*STAFF_ROLES)

STATIC = re.compile(r"^[a-z0-9-]+\.(css|svg)$")
MEDIA = {"css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
MAX_QUERY = 200
SEARCH_LIMIT = 50


def _next_page(target: str | None) -> str:
    """Only back into these pages: never an open redirect to somewhere else."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/search"


@router.get("/")
async def sign_in_page(request: Request, next: str | None = None, expired: bool = False,
                       signed_out: bool = False) -> Response:
    notice = ("Your sign-in has expired. Paste a new token." if expired
              else "You have signed out." if signed_out else None)
    return render(request, "signin.html", next=_next_page(next), notice=notice, error=None)


@router.post("/")
async def sign_in(request: Request, token: Annotated[str, Form()] = "",
                  next: Annotated[str, Form()] = "/ui/search") -> Response:
    token = "".join(token.split()).removeprefix("Bearer")  # pasted with line breaks or its scheme: still fine
    try:
        verify_token(services_of(request).jwt_secret, token)  # the pages check the role on every request
    except Problem as exc:
        error = "Paste your sign-in token" if not token else (
            "This token has expired: ask for a new one" if exc.code == "token-expired"
            else "This is not a sign-in token for this front door")
        return render(request, "signin.html", status=401, next=_next_page(next), notice=None, error=error)
    response = RedirectResponse(_next_page(next), status_code=303, headers=HEADERS)
    response.set_cookie(COOKIE, token, max_age=_seconds_left(token), path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def _seconds_left(token: str) -> int:
    """The cookie lasts as long as the token. Read after verify_token has checked the signature and `exp`."""
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    return max(int(exp) - int(time.time()), 0)


@router.api_route("/ui/signout", methods=["GET", "POST"])
async def sign_out() -> Response:
    response = RedirectResponse("/?signed_out=1", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/ui/static/{name}")
async def static(name: str) -> Response:
    if STATIC.match(name):
        item = resources.files("frontdoor.ui").joinpath("static", name)
        if item.is_file():
            return Response(item.read_bytes(), media_type=MEDIA[name.rsplit(".", 1)[1]],
                            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
    return Response("not found", status_code=404, media_type="text/plain")


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/ui/search")
@page
async def search(request: Request, q: Annotated[str | None, Query()] = None) -> Response:
    who = await READERS(request)
    query = (q or "").strip()
    found, error = None, None
    if len(query) > MAX_QUERY:
        error = f"That is too long to search for: at most {MAX_QUERY} characters"
    elif len(query) == 1:
        error = "Type at least two characters"
    elif query:
        try:
            found = (await reading.search(services_of(request), who, await asked(request), query,
                                          limit=SEARCH_LIMIT))["results"]
        except DomainError as exc:
            if exc.status != 422:
                raise
            error = exc.detail[:1].upper() + exc.detail[1:]
    return _search_page(request, who, query=query, found=found, error=error)


@router.get("/ui/register")
@page
async def register_page(request: Request) -> Response:
    return _search_page(request, (await READERS(request)), query="", found=None, error=None)


@router.post("/ui/register")
@page
async def register(request: Request) -> Response:
    who = await WRITERS(request)
    values = forms.values_of(await request.form())
    taken_by = None
    try:
        reply = await residents.register(services_of(request), who, await asked(request), forms.register(values))
    except forms.FormInvalid as exc:
        errors, status = exc.errors, 422
    except DomainError as exc:
        errors, status = forms.domain_errors(exc, "register"), exc.status
        if isinstance(exc, NhsNumberTaken):
            taken_by = exc.extra.get("resident_id")
    else:
        body = reply.body
        return RedirectResponse(f"/ui/residents/{quote(body['resident_id'], safe='')}?min_seq={body['seq']}",
                                status_code=303, headers=HEADERS)
    return _search_page(request, who, query="", found=None, error=None, status=status, errors=errors,
                        values=values, taken_by=taken_by)


def _search_page(request: Request, who: Principal, *, query: str, found: list[dict[str, str]] | None,
                 error: str | None, status: int = 200, errors: forms.Errors | None = None,
                 values: forms.Values | None = None, taken_by: object = None) -> Response:
    blank = dict.fromkeys(forms.FIELDS["register"], "")
    return render(request, "search.html", status=status, query=query, found=found, search_error=error,
                  errors=errors or {}, values=blank | (values or {}), taken_by=taken_by,
                  staff=who.role in STAFF_ROLES, clusters=services_of(request).teams.clusters)
