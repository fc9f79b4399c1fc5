"""Two API processes each keep folded resident states in memory (DESIGN §1). The expected-sequence append
validates a stale state only when a command produces events; a command that the stale state REFUSES (work it has
not seen) never reaches the append. Found by the two-of-each drill: a flag raised by the detector in a projector
process could not be resolved through an API that had the resident cached ("no flag … on this resident")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.envelope import Actor
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.domain import commands as c
from frontdoor.handling import Context
from frontdoor.services import Services
from tests.conftest import bounded

CALL_HANDLER = Actor(id="ch-1", role="call_handler")


@pytest.fixture
async def other_process(services: Services, tmp_path: Path) -> AsyncIterator[Services]:
    other = await start_services(services.settings.model_copy(update={"data_dir": tmp_path / "other"}),
                                 run_projections=False)
    yield other
    await bounded(stop_services(other), "the second process's services")


async def test_work_made_in_one_process_can_be_acted_on_through_another_that_cached_the_resident(
        services: Services, other_process: Services) -> None:
    now = datetime.now(UTC)
    resident = "0190f000-0000-7000-8000-00000000a001"

    def context(n: int) -> Context:
        return Context(actor=CALL_HANDLER, correlation_id=f"stale-{n}")

    await services.handler.handle(resident, c.RegisterResident(
        at=now, given_name="Ada", family_name="Stale", date_of_birth=now.date().replace(year=1940),
        postcode="SO14 7LY"), context(1))
    # The second process folds (and caches) the resident now, before the referral is made.
    await other_process.handler.handle(resident, c.RecordConsent(
        at=now, decision="granted", scope=["all_partners"], basis="verbal", recorded_by="ch-1"), context(2))
    await services.handler.handle(resident, c.MakeReferral(
        at=now, referral_id="ref-stale-1", to_team="dn-central", need="mobility and falls", urgency="routine",
        reason="falls"), context(3))
    # The second process has the resident cached from before the referral was made.
    await other_process.handler.handle(resident, c.AcceptReferral(at=now, referral_id="ref-stale-1",
                                                                  by_team="dn-central"), context(4))
