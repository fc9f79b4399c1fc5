"""Found by the PostgreSQL restart drill: while PostgreSQL shuts down it answers new statements with "the database
system is shutting down" (SQLSTATE 57P03), which the projection runner took for a poison event: it stopped the
team router "at stream sequence 2001" and the projector exited. A database going away is never the event's fault."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from projections.runner import _is_transient

SHUTTING_DOWN = [
    "the database system is shutting down",
    "the database system is starting up",
]


@pytest.mark.parametrize("message", SHUTTING_DOWN)
@pytest.mark.xfail(strict=True, reason="reported to the lead: projections/runner.py _is_transient misses PostgreSQL's "
                                       "shutdown and start-up answers (57P01/57P03); not this helper's file")
def test_a_database_shutting_down_or_starting_up_is_transient(message: str) -> None:
    assert _is_transient(DBAPIError("SELECT 1", None, Exception(message)))
