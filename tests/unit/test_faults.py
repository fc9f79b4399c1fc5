"""Whose fault a failure is: the event's (poison) or a dependency's (retried, never parked)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import nats.errors
import nats.js.errors
import pytest
from sqlalchemy import exc as sa

from events.catalogue import ReferralMade
from events.envelope import Actor, Envelope, RecordedEvent
from events.errors import AppendRejected, StoreUnavailable
from frontdoor.domain.errors import TooManyConflicts
from frontdoor.flagging import FlagWriter
from projections.faults import TryLater, is_transient, waiting_state
from projections.rules import Finding


def db(error: type[sa.DBAPIError], text: str) -> sa.DBAPIError:
    return error("INSERT …", {}, sqlite3.OperationalError(text))


@pytest.mark.parametrize("failure", [
    db(sa.OperationalError, "attempt to write a readonly database"),
    db(sa.ProgrammingError, "permission denied for table residents"),
    db(sa.OperationalError, "database is locked"),
    db(sa.InternalError, "cannot execute INSERT in a read-only transaction"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    StoreUnavailable("no answer"),
    TryLater("busy"),
    nats.errors.TimeoutError(),
    nats.errors.NoRespondersError(),
    nats.errors.ConnectionClosedError(),
    nats.js.errors.ServiceUnavailableError(code=503),
])
def test_dependencies_failing_are_retried(failure: BaseException) -> None:
    assert is_transient(failure)


@pytest.mark.parametrize("failure", [
    db(sa.IntegrityError, "UNIQUE constraint failed: residents.resident_id"),
    db(sa.DataError, "value too long for type character varying(64)"),
    ValueError("1 validation error for Envelope"),
    LookupError("referral_id r1 is not in this view"),
    KeyError("details"),
    AppendRejected(10054, "message size exceeds maximum allowed"),
    nats.errors.MaxPayloadError(),
    nats.js.errors.BadRequestError(code=400),
])
def test_what_the_event_causes_is_poison(failure: BaseException) -> None:
    assert not is_transient(failure)


def test_whose_problem_health_shows() -> None:
    assert waiting_state(db(sa.ProgrammingError, "permission denied")) == "waiting_for_database"
    assert waiting_state(StoreUnavailable("x")) == "waiting_for_nats"


class Contended:
    async def handle(self, *_args: object) -> None:
        raise TooManyConflicts("resident r changed 5 times while we wrote; try again")


async def test_a_flag_that_keeps_meeting_other_writers_is_tried_again_not_poison() -> None:
    cause = RecordedEvent(seq=3, envelope=Envelope(
        event_id="e", type="ReferralMade", version=1, resident_id="r", occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC), actor=Actor(id="t", role="call_handler"), correlation_id="c",
        data={}), event=ReferralMade(referral_id="r1", to_team="ot", need="housing"))
    writer = FlagWriter(Contended())  # type: ignore[arg-type]
    finding = Finding("parallel_referrals", "medium", ("r1", "r2"), "two referrals")
    with pytest.raises(TryLater) as raised:
        await writer.raise_flag("r", finding, cause)
    assert is_transient(raised.value)
