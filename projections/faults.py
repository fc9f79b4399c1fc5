"""Whose fault a failure is: the event's (poison: stop or park it) or the infrastructure's (retry, never park).

Only what the event itself causes is poison: it cannot be decoded or validated, or the projection's own logic
refuses it, or the database refuses its data (a constraint, a value out of range). Everything else is a
dependency failing: the database down, locked, read-only or refusing us permission on a table, NATS or
JetStream not answering, a timeout. Those heal when the dependency does, so the same batch is tried again;
parking good events because a grant was missing loses them from the read models for good.
"""

from __future__ import annotations

import nats.errors
import nats.js.errors
from sqlalchemy import exc as sa

from events.errors import StoreUnavailable


class TryLater(Exception):
    """Raised by a projection's collaborator (the detector's flag sink) for a failure that is not the event's:
    the store busy or away, a write that kept meeting other writers. The runner applies the batch again later."""


# Errors nats-py raises about what it was asked to send, not about the server: sending again cannot help.
_NATS_REFUSALS = (nats.errors.MaxPayloadError, nats.errors.BadSubjectError, nats.errors.BadHeaderError)


def is_database_fault(exc: BaseException) -> bool:
    """A failure of the read-model database itself (down, locked, read-only, a missing grant or table)."""
    if isinstance(exc, sa.DBAPIError):
        # A constraint or a value the column cannot hold is about the data the event brought: poison.
        # Anything else the driver raises (operational, programming: "permission denied for table", "attempt
        # to write a readonly database", "database is locked", "no such table") is the database's.
        return exc.connection_invalidated or not isinstance(exc, sa.IntegrityError | sa.DataError)
    return isinstance(exc, sa.DisconnectionError | sa.TimeoutError | sa.InterfaceError)


def is_store_fault(exc: BaseException) -> bool:
    """NATS or JetStream unavailable (the detector's own write-back included): not the event's fault."""
    if isinstance(exc, StoreUnavailable | TryLater):
        return True
    if isinstance(exc, nats.js.errors.APIError):
        return exc.code is None or exc.code >= 500 or exc.code in (408, 429)
    return isinstance(exc, nats.errors.Error) and not isinstance(exc, _NATS_REFUSALS)


def is_transient(exc: BaseException) -> bool:
    """Retry with backoff rather than treat the event as poison. Timeouts and OS errors (connection refused,
    a full disk) are transient too: `TimeoutError` is an `OSError` since Python 3.3."""
    if isinstance(exc, ExceptionGroup):
        return any(is_transient(inner) for inner in exc.exceptions)
    return isinstance(exc, OSError) or is_database_fault(exc) or is_store_fault(exc) or (
        exc.__cause__ is not None and exc.__cause__ is not exc and is_transient(exc.__cause__))


def waiting_state(exc: BaseException) -> str:
    """What /health shows while the retries last: whose problem it is."""
    return "waiting_for_nats" if is_store_fault(exc) else "waiting_for_database"
