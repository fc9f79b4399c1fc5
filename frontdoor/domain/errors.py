"""Domain errors carry a stable code, an HTTP-like status and a sentence a call handler can act on.
One place (frontdoor.problems) turns them into problem+json (HTTP) or problem objects (NATS replies)."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain-error"
    status = 409
    title = "The request conflicts with the resident's record"

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class ResidentNotFound(DomainError):
    code, status, title = "resident-not-found", 404, "No such resident"


class AlreadyRegistered(DomainError):
    code, status, title = "already-registered", 409, "This resident is already registered"


class NhsNumberTaken(DomainError):
    code, status, title = "nhs-number-taken", 409, "This NHS number belongs to another resident"


class WorkNotFound(DomainError):
    code, status, title = "not-found", 404, "No such referral, assessment or flag"


class IllegalStep(DomainError):
    code, status, title = "illegal-step", 409, "That step is not allowed in the work's current state"


class NotYourWork(DomainError):
    code, status, title = "not-your-work", 403, "This work is not addressed to your team"


class InvalidCommand(DomainError):
    code, status, title = "invalid", 422, "The request is not valid"


class TooManyConflicts(DomainError):
    code, status, title = "conflict", 409, "The record kept changing while we wrote; try again"
