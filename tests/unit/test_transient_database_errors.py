"""Found by the PostgreSQL restart drill: while PostgreSQL shuts down it answers new statements with "the database
system is shutting down" (SQLSTATE 57P03), which the projection runner took for a poison event: it stopped the
team router "at stream sequence 2001" and the projector exited. A database going away is never the event's fault."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from projections.faults import is_transient

SHUTTING_DOWN = [
    "the database system is shutting down",
    "the database system is starting up",
]


@pytest.mark.parametrize("message", SHUTTING_DOWN)
def test_a_database_shutting_down_or_starting_up_is_transient(message: str) -> None:
    assert is_transient(DBAPIError("SELECT 1", None, Exception(message)))
