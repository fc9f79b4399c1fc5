"""The pages' front: sign in, find or register a resident (and, in `resident_pages`, `team_pages` and
`flag_pages`, the rest). Signed in by a short-lived signed session cookie (`frontdoor.ui.session`), never the bearer
token; every form carries its CSRF token. Each page calls one use case of the application layer."""

from __future__ import annotations

import re
from importlib import resources
from typing import Annotated
from urllib.parse import quote

import jwt
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from frontdoor.api.auth import verify_token
from frontdoor.api.problems import Problem
from frontdoor.api.writes import asked, services_of
from frontdoor.application import reading, residents
from frontdoor.application.who import STAFF_ROLES, Principal
from frontdoor.domain.errors import DomainError, NhsNumberTaken
from frontdoor.ui import forms, session
from frontdoor.ui.rendering import HEADERS, home_of, page, render

router = APIRouter(include_in_schema=False)
READERS = session.requires(*STAFF_ROLES, "team")
WRITERS = session.requires(*STAFF_ROLES)

STATIC = re.compile(r"^[a-z0-9-]+\.(css|svg)$")
MEDIA = {"css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
MAX_QUERY = 200
SEARCH_LIMIT = 50
COOKIE_RULES = {"path": "/", "httponly": True, "samesite": "strict"}


def _next_page(target: str | None) -> str | None:
    """Only back into these pages: never an open redirect to somewhere else."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _sign_in_form(request: Request, *, status: int = 200, next: str | None, notice: str | None,
                  error: str | None) -> Response:
    """The sign-in page; its form's CSRF token is bound to a random cookie of its own (there is no session yet),
    so no other site can sign someone in as another person."""
    nonce = request.cookies.get(session.SIGN_IN_COOKIE) or session.new_nonce()
    response = render(request, "signin.html", status=status, next=_next_page(next) or "", notice=notice,
                      error=error, sign_in_csrf=session.sign_in_csrf(services_of(request).jwt_secret, nonce))
    response.set_cookie(session.SIGN_IN_COOKIE, nonce, max_age=session.SIGN_IN_S, secure=request.url.scheme == "https",
                        **COOKIE_RULES)  # type: ignore[arg-type]
    return response


@router.get("/")
async def sign_in_page(request: Request, next: str | None = None, expired: bool = False,
                       signed_out: bool = False) -> Response:
    notice = ("Your sign-in has expired. Paste a new token." if expired
              else "You have signed out." if signed_out else None)
    return _sign_in_form(request, next=next, notice=notice, error=None)


@router.post("/")
async def sign_in(request: Request) -> Response:
    try:
        form = await session.checked_sign_in(request)
    except Problem:
        return _sign_in_form(request, status=403, next=None, notice=None,
                             error="This sign-in form had expired: paste your token again")
    token = "".join(str(form.get("token", "")).split()).removeprefix("Bearer")  # pasted with breaks: still fine
    next = str(form.get("next", ""))
    secret = services_of(request).jwt_secret
    try:
        who = verify_token(secret, token)  # the pages check the role on every request
    except Problem as exc:
        error = "Paste your sign-in token" if not token else (
            "This token has expired: ask for a new one" if exc.code == "token-expired"
            else "This is not a sign-in token for this front door")
        return _sign_in_form(request, status=401, next=next, notice=None, error=error)
    # The cookie holds a signed session, never the token; checked above, so `exp` can be read unverified here.
    value, max_age = session.seal(secret, who, token_exp=int(jwt.decode(token, options={"verify_signature": False})
                                                             ["exp"]))
    response = RedirectResponse(_next_page(next) or home_of(who), status_code=303, headers=HEADERS)
    response.set_cookie(session.COOKIE, value, max_age=max_age, secure=request.url.scheme == "https",
                        **COOKIE_RULES)  # type: ignore[arg-type]
    response.delete_cookie(session.SIGN_IN_COOKIE, **COOKIE_RULES)  # type: ignore[arg-type]
    return response


@router.post("/ui/signout")
@page
async def sign_out(request: Request) -> Response:
    signed_in = session.session_of(request)
    if signed_in is not None:
        await session.checked_form(request, signed_in)  # another site may not sign a person out either
    response = RedirectResponse("/?signed_out=1", status_code=303, headers=HEADERS)
    response.delete_cookie(session.COOKIE, **COOKIE_RULES)  # type: ignore[arg-type]
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
async def search(request: Request, q: Annotated[str | None, Query()] = None,
                 cursor: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    who = (await READERS(request)).principal
    query = (q or "").strip()
    found, error, next_cursor = None, None, None
    if len(query) > MAX_QUERY:
        error = f"That is too long to search for: at most {MAX_QUERY} characters"
    elif len(query) == 1:
        error = "Type at least two characters"
    elif query:
        try:
            answer = await reading.search(services_of(request), who, await asked(request), query,
                                          limit=SEARCH_LIMIT, cursor=cursor)
            found, next_cursor = answer["results"], answer["next_cursor"]
        except DomainError as exc:
            if exc.status != 422:
                raise
            error = exc.detail[:1].upper() + exc.detail[1:]
    return _search_page(request, who, query=query, found=found, error=error, next_cursor=next_cursor,
                        paged=cursor is not None)


@router.get("/ui/register")
@page
async def register_page(request: Request) -> Response:
    return _search_page(request, (await READERS(request)).principal, query="", found=None, error=None)


@router.post("/ui/register")
@page
async def register(request: Request) -> Response:
    signed_in = await WRITERS(request)
    who = signed_in.principal
    values = forms.values_of(await session.checked_form(request, signed_in))
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
        new_record = f"/ui/residents/{quote(body['resident_id'], safe='')}?min_seq={body['seq']}"
        if body.get("likely_matches"):
            # Said before anything else: one of these may be the person, and their record the one to use.
            return render(request, "matches.html", status=201, values=values, matches=body["likely_matches"],
                          new_record=new_record)
        return RedirectResponse(new_record, status_code=303, headers=HEADERS)
    return _search_page(request, who, query="", found=None, error=None, status=status, errors=errors,
                        values=values, taken_by=taken_by)


def _search_page(request: Request, who: Principal, *, query: str, found: list[dict[str, str]] | None,
                 error: str | None, status: int = 200, errors: forms.Errors | None = None,
                 values: forms.Values | None = None, taken_by: object = None, next_cursor: str | None = None,
                 paged: bool = False) -> Response:
    blank = dict.fromkeys(forms.FIELDS["register"], "")
    return render(request, "search.html", status=status, query=query, found=found, search_error=error,
                  errors=errors or {}, values=blank | (values or {}), taken_by=taken_by,
                  staff=who.role in STAFF_ROLES, clusters=services_of(request).teams.clusters,
                  next_cursor=next_cursor, paged=paged)
