"""The correlation id of the work in hand (an HTTP request, for now): set once at the edge, read by the logs and
by every event the request writes, so one id ties a request's log lines to the events it caused."""

from __future__ import annotations

import re
from contextvars import ContextVar

from events.ids import uuid7

MAX_LENGTH = 64
# What a client may hand in: printable, no spaces, bounded, so it can go into logs and headers as it is.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:/+=-]{1,64}$")

current: ContextVar[str | None] = ContextVar("frontdoor_correlation_id", default=None)


def accept(offered: str | None) -> str:
    """The client's X-Correlation-Id if it is a sensible token, else a fresh one."""
    if offered is not None and _ACCEPTABLE.match(offered.strip()):
        return offered.strip()
    return uuid7()
