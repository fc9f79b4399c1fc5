"""Bearer tokens and roles (DESIGN §6, §8): HS256 JWTs with `sub`, `role`, `team_id`, `exp`.
Every route states the roles it allows; the principal is then passed to the handler as a typed value."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from fastapi import Request

from frontdoor.api.problems import Problem
from frontdoor.application.who import ROLES, Principal

__all__ = ["ROLES", "Principal", "bearer", "issue_token", "requires", "verify_token"]


def issue_token(secret: str, *, sub: str, role: str, team_id: str | None = None, ttl_s: int = 12 * 3600) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "team" and not team_id:
        raise ValueError("a team token needs a team id")
    claims: dict[str, Any] = {"sub": sub, "role": role, "exp": int(time.time()) + ttl_s, "iat": int(time.time())}
    if team_id:
        claims["team_id"] = team_id
    return jwt.encode(claims, secret, algorithm="HS256")


# Tokens already verified, by (secret, token): a client sends the same token on every request, and checking its
# signature again (PyJWT decodes base64 a character at a time) was a sixth of the API's CPU per contact. Only a
# token that verified is kept, with its expiry, which is checked on every use; nothing else about a verified token
# can change with time. Bounded: the oldest entry goes first.
VERIFIED_KEPT = 4096
_verified: dict[tuple[str, str], tuple[Principal, float]] = {}


def verify_token(secret: str, token: str) -> Principal:
    key = (secret, token)
    kept = _verified.get(key)
    if kept is not None:
        principal, expires = kept
        if time.time() < expires:
            return principal
        _verified.pop(key, None)  # expired: verified again below, which answers "token-expired"
    principal, expires = _verify(secret, token)
    if len(_verified) >= VERIFIED_KEPT:
        _verified.pop(next(iter(_verified), key), None)
    _verified[key] = (principal, expires)
    return principal


def _verify(secret: str, token: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise Problem(401, "Sign in again", "the token has expired", code="token-expired") from exc
    except jwt.PyJWTError as exc:
        raise Problem(401, "Not signed in", f"the bearer token is not valid ({exc})", code="unauthenticated") from exc
    role = claims.get("role")
    if role not in ROLES:
        raise Problem(401, "Not signed in", f"unknown role {role!r} in token", code="unauthenticated")
    team_id = claims.get("team_id")
    if role == "team" and not team_id:
        raise Problem(401, "Not signed in", "a team token must name its team_id", code="unauthenticated")
    return Principal(sub=str(claims["sub"]), role=role, team_id=team_id), float(claims["exp"])


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    # Only the header, never a cookie: a browser sends cookies by itself, so a cookie would let any page the
    # signed-in person opens write through the API (CSRF). The pages have their own session (frontdoor.ui.session).
    raise Problem(401, "Not signed in", "send Authorization: Bearer <token>", code="unauthenticated")


def requires(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the signed-in principal, if their role is one of `roles`, else 401/403.
    Async on purpose: FastAPI runs a plain `def` dependency in a thread pool, a cost on every request."""

    async def dependency(request: Request) -> Principal:
        principal = verify_token(request.app.state.services.jwt_secret, bearer(request))
        if principal.role not in roles:
            raise Problem(403, "Not allowed", f"the {principal.role} role cannot do this (allowed: "
                          f"{', '.join(roles)})", code="forbidden")
        return principal

    return dependency
