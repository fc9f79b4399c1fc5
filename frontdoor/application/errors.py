"""Refusals that belong to the application rather than to one resident's rules. Like the domain's, each carries
a code, a status and a sentence; one place maps them to problem+json (HTTP) and to problem objects (NATS)."""

from __future__ import annotations

from frontdoor.domain.errors import DomainError


class NotAllowed(DomainError):
    code, status, title = "forbidden", 403, "Not allowed"


class NoRelationship(DomainError):
    code, status, title = "no-legitimate-relationship", 403, "Not allowed"


class IdempotencyKeyReused(DomainError):
    code, status, title = "idempotency-key-reused", 422, "Idempotency-Key reused"


class ViewBehind(DomainError):
    code, status, title = "read-model-behind", 503, "The view is catching up"


class BeyondTheStream(DomainError):
    code, status, title = "invalid", 422, "The request is not valid"


class HistoryUnreadable(DomainError):
    code, status, title = "unreadable-event", 409, "This record has an event that cannot be read"


class TeamNotFound(DomainError):
    code, status, title = "not-found", 404, "No such team"
