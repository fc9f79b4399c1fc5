"""Identity linking on a city whose duplicate people the detector was never tuned to: the demo city draws their
nicknames from a list only the generator has (the detector has the `nicknames` dataset), and adds an initial, a
name cut short and digits swapped in a birth date. Written through the real command path and projected by the
real detector; scored as `frontdoor evaluate` scores it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.demo_city.plan import PERSON_KINDS
from frontdoor.demo_city.writer import write_city
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.evaluation import evaluate
from frontdoor.evaluation_run import wait_caught_up
from frontdoor.settings import Settings
from projections import queries
from tests.conftest import database_url

SEED = 31337  # no other test writes this city
RESIDENTS = 1500
TODAY = date(2026, 11, 30)
PRECISION_GOAL = 0.97
RECALL_GOAL = 0.95


async def test_identity_linking_on_a_city_with_nicknames_and_slips_of_its_own(
        nats_server: EmbeddedNats, js: JetStreamContext, engine: AsyncEngine, tmp_path: Path) -> None:
    settings = Settings(nats_url=nats_server.url, database_url=database_url(tmp_path), data_dir=tmp_path / "data",
                        jwt_secret="identity-linking-test-secret-0123456789")
    services = await start_services(settings, run_projections=True)
    try:
        truth_path = tmp_path / "truth.json"
        await write_city(services, residents=RESIDENTS, seed=SEED, truth_path=truth_path, progress=False,
                         today=TODAY)
        await wait_caught_up(services, 300)
        async with services.engine.connect() as conn:
            flags = await queries.list_flags(conn, status=None, rule=None, cluster=None, team=None,
                                             resident_id=None, limit=1_000_000)
    finally:
        await stop_services(services)
    truth = json.loads(truth_path.read_text())

    identity = next(s for s in evaluate(truth, flags) if s.rule == "possible_duplicate_resident")

    assert {p["kind"] for p in truth["duplicate_people"]} == set(PERSON_KINDS)
    assert identity.expected >= 15
    assert identity.precision >= PRECISION_GOAL, identity
    assert identity.recall >= RECALL_GOAL, identity
