"""How the pages are drawn: one autoescaping Jinja environment, the headers every page carries, and the pages
for failures that are not about a form (not signed in, not allowed, no such resident, store unavailable)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, ParamSpec
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from frontdoor.api.problems import UNAVAILABLE, Problem
from frontdoor.api.writes import services_of
from frontdoor.application.who import Principal
from frontdoor.domain.errors import DomainError
from frontdoor.ui.session import COOKIE, csrf_of, session_of

# Health data: nothing cached, nothing framed, nothing loaded from anywhere but here, no script at all.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
ROLE_NAMES = {"call_handler": "call handler", "team": "team", "coordinator": "coordinator", "analyst": "analyst",
              "admin": "administrator"}

try:
    LOCAL = ZoneInfo("Europe/London")  # what the people on the phone read their clocks in
except ZoneInfoNotFoundError:  # no tz database on this machine: say UTC rather than guess
    LOCAL = ZoneInfo("UTC")


@functools.lru_cache(maxsize=8192)  # one resident page shows each moment up to three times (section, timeline)
def _when(value: str | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(LOCAL)
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def _when_exact(value: str | None) -> str:
    """To the second (and millisecond when there is one): for the as-of moment, which may fall between steps."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(LOCAL)
    millis = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return f"{moment.day} {moment:%b %Y, %H:%M:%S}{millis} ({moment.tzname()})"


def _day(value: str | None) -> str:
    if not value:
        return ""
    day = date.fromisoformat(value)
    return f"{day.day} {day:%b %Y}"


def _nhs(value: str | None) -> str:
    return f"{value[:3]} {value[3:6]} {value[6:]}" if value and len(value) == 10 else (value or "")


def _age(value: str | None) -> int | None:
    if not value:
        return None
    born, today = date.fromisoformat(value), datetime.now(UTC).date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _words(value: str | None) -> str:
    """'walk_in' -> 'walk in', 'handed_off' -> 'handed off': the vocabulary as people say it."""
    return (value or "").replace("_", " ")


TEMPLATES = Environment(loader=PackageLoader("frontdoor.ui", "templates"), autoescape=select_autoescape(["html"]),
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                        auto_reload=False)  # templates ship with the package: no stat() per include per request
TEMPLATES.filters.update(when=_when, when_exact=_when_exact, day=_day, nhs=_nhs, age=_age, words=_words)


def principal_of(request: Request) -> Principal | None:
    """Who the session cookie says is signed in, for the page header; None when nobody (or a stale one) is."""
    session = session_of(request)
    return session.principal if session else None


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    teams = services_of(request).teams

    def team_name(team_id: str | None) -> str:
        team = teams.get(team_id) if team_id else None
        return team.name if team else (team_id or "the front door")

    html = TEMPLATES.get_template(template).render(
        signed_in=principal_of(request), role_names=ROLE_NAMES, team_name=team_name, csrf=csrf_of(request),
        home=home_of(principal_of(request)), **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def home_of(who: Principal | None) -> str:
    """Where each role starts: a team on its caseload, a coordinator on the flags, everyone else on search."""
    if who is not None and who.role == "team" and who.team_id:
        return f"/ui/teams/{quote(who.team_id, safe='')}"
    if who is not None and who.role == "coordinator":
        return "/ui/flags"
    return "/ui/search"


def problem_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "problem.html", status=status, title=title, detail=detail[:1].upper() + detail[1:])


def to_sign_in(request: Request, *, expired: bool = False) -> RedirectResponse:
    """Back to the sign-in page, which returns here afterwards; a stale cookie is dropped on the way."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target if request.method == "GET" else "/ui/search"} | ({"expired": "1"} if expired else {})
    response = RedirectResponse(f"/?{urlencode(query)}", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


P = ParamSpec("P")


def page(endpoint: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Turns what the API says as problem+json into what a person at a screen needs: a sign-in page, or a page
    saying plainly what went wrong. Form errors never get here: the form routes show those beside the field."""

    @functools.wraps(endpoint)
    async def draw(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs["request"]
        assert isinstance(request, Request), "every page takes `request` by name"
        try:
            return await endpoint(*args, **kwargs)
        except Problem as exc:
            if exc.status == 401:
                return to_sign_in(request, expired=exc.code == "token-expired")
            return problem_page(request, exc.status, exc.title, exc.detail)
        except DomainError as exc:
            return problem_page(request, exc.status, exc.title, exc.detail)
        except UNAVAILABLE as exc:  # NATS, JetStream or the database: the same 503 the API answers
            return problem_page(request, 503, "The record cannot be reached just now",
                                f"{str(exc) or type(exc).__name__}. If you were saving something, open the record "
                                "again to see whether it was saved before you try again.")

    return draw
