"""Who is signed in to the pages, and the CSRF token every form carries.

The sign-in cookie holds a short-lived signed session value, never the bearer token: a stolen cookie is worth at
most `SESSION_S` and works on the pages only (the JSON API reads nothing but `Authorization`). Signed with an HMAC
keyed from the JWT secret (stdlib `hmac`, no new dependency) rather than kept in a server-side table: every API
process checks it alone, as it checks bearer tokens, so several processes behind one address need no shared store.
What it gives up: a session cannot be revoked before it runs out; signing out only drops the cookie.

A form's CSRF token is an HMAC of the session's random id: the cookie alone never authorises a write (a form from
another site cannot read the token), and a token taken from another session does not match this one's id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from fastapi import Request
from starlette.datastructures import FormData

from frontdoor.api.problems import Problem
from frontdoor.api.writes import services_of
from frontdoor.application.who import ROLES, Principal

COOKIE = "frontdoor_session"
SIGN_IN_COOKIE = "frontdoor_sign_in"  # a random value for the sign-in form's own CSRF token (no session yet)
CSRF_FIELD = "csrf"
SESSION_S = 8 * 3600  # one working shift at most, and never past the token's own `exp`
SIGN_IN_S = 3600


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    sid: str
    exp: int


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _key(secret: str, purpose: str) -> bytes:
    """One key per purpose, derived from the JWT secret: a session value is no bearer token and no CSRF token."""
    return hmac.new(secret.encode(), f"frontdoor-ui {purpose} v1".encode(), hashlib.sha256).digest()


def _mac(secret: str, purpose: str, value: bytes) -> str:
    digest = hmac.new(_key(secret, purpose), value, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def seal(secret: str, principal: Principal, *, token_exp: int) -> tuple[str, int]:
    """A new session's cookie value and its lifetime in seconds."""
    exp = min(int(time.time()) + SESSION_S, token_exp)
    claims = {"sub": principal.sub, "role": principal.role, "team_id": principal.team_id, "exp": exp,
              "sid": new_nonce()}
    body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
    return f"{body.decode()}.{_mac(secret, 'session', body)}", max(exp - int(time.time()), 0)


def unseal(secret: str, value: str | None) -> Session | None:
    """The session a cookie holds, or None when it is missing, altered, malformed or out of date."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    if not hmac.compare_digest(mac, _mac(secret, "session", body.encode())):
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        principal = Principal(sub=str(claims["sub"]), role=str(claims["role"]), team_id=claims["team_id"])
        exp, sid = int(claims["exp"]), str(claims["sid"])
    except (ValueError, KeyError, TypeError):
        return None
    if exp <= time.time() or principal.role not in ROLES:
        return None
    return Session(principal, sid, exp)


def csrf_for(secret: str, sid: str) -> str:
    return _mac(secret, "csrf", sid.encode())


def session_of(request: Request) -> Session | None:
    return unseal(services_of(request).jwt_secret, request.cookies.get(COOKIE))


def csrf_of(request: Request) -> str:
    """The token for this page's forms: the signed-in session's ("" when nobody is signed in)."""
    session = session_of(request)
    return csrf_for(services_of(request).jwt_secret, session.sid) if session else ""


def sign_in_csrf(secret: str, nonce: str) -> str:
    return csrf_for(secret, f"sign-in:{nonce}")


def _refused() -> Problem:
    return Problem(403, "This form has expired", "the form was not sent with this sign-in's security token, so "
                   "nothing was saved. Open the page again and send the form from there.", code="csrf")


def _matches(given: object, expected: str) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def checked_form(request: Request, session: Session) -> FormData:
    """The posted form, once its CSRF token is this session's; else 403 before anything is read or written."""
    form = await request.form()
    if not _matches(form.get(CSRF_FIELD), csrf_for(services_of(request).jwt_secret, session.sid)):
        raise _refused()
    return form


async def checked_sign_in(request: Request) -> FormData:
    form = await request.form()
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    if not nonce or not _matches(form.get(CSRF_FIELD), sign_in_csrf(services_of(request).jwt_secret, nonce)):
        raise _refused()
    return form


def requires(*roles: str) -> Callable[[Request], Awaitable[Session]]:
    """The pages' own sign-in check (the API's reads only `Authorization`): 401 sends the person to sign in."""

    async def signed_in(request: Request) -> Session:
        session = session_of(request)
        if session is None:
            raise Problem(401, "Not signed in", "sign in to use the front door", code="unauthenticated")
        if session.principal.role not in roles:
            raise Problem(403, "Not allowed", f"the {session.principal.role} role cannot do this (allowed: "
                          f"{', '.join(roles)})", code="forbidden")
        return session

    return signed_in
