"""Write-back faults are not poison (issue 10 item 4): when the detector's own write (a flag, through the command
path) meets a JetStream that is not there, the runner waits it out and the flag is raised once the store is back,
exactly once, under both poison policies. The outage is real: a nats-server of this test's own, stopped at the
moment the detector writes and started again on the same port and files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from events.catalogue import DuplicationFlagged, Event, ReferralMade
from events.codec import wrap
from events.envelope import Actor, RecordedEvent
from events.ids import uuid7
from events.store import JetStreamEventStore
from events.streams import ensure_streams
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.flagging import FlagWriter
from frontdoor.handling import CommandHandler
from frontdoor.resident_states import ResidentStates
from projections.detector import DuplicateDetector
from projections.rules import Finding, Thresholds
from projections.runner import ProjectionRunner
from projections.tables import dead_letters
from tests.integration.test_projection_runner import count, running, write_city

ACTOR = Actor(id="t", role="call_handler")
DEADLINE_S = 60.0


class OutageAtTheFirstFlag:
    """Stops the nats-server just as the detector raises its first flag, and starts it again a little later:
    the write meets a store that is not there."""

    def __init__(self, writer: FlagWriter, server: EmbeddedNats) -> None:
        self._writer, self._server = writer, server
        self.outages = 0
        self.restarted = asyncio.Event()

    def follow(self, recorded: RecordedEvent) -> None:
        self._writer.follow(recorded)

    async def raise_flag(self, resident_id: str, finding: Finding, cause: RecordedEvent) -> None:
        if self.outages == 0:
            self.outages += 1
            await asyncio.to_thread(self._server.stop)
            asyncio.get_running_loop().call_later(2.0, lambda: asyncio.create_task(self._restart()))
        await self._writer.raise_flag(resident_id, finding, cause)

    async def _restart(self) -> None:
        await asyncio.to_thread(self._server.start)
        self.restarted.set()

    async def close_flag(self, resident_id: str, flag_id: str, cause: RecordedEvent) -> None:
        await self._writer.close_flag(resident_id, flag_id, cause)


@pytest.mark.parametrize("policy", ["stop", "park"])
async def test_a_flag_that_met_a_jetstream_outage_is_raised_once_the_store_is_back(
        tmp_path: Path, engine: AsyncEngine, policy: str) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        store = JetStreamEventStore(nc, js, timeout=1.0)
        handler = CommandHandler(store, ResidentStates(store, capacity=100), retries=5)
        sink = OutageAtTheFirstFlag(FlagWriter(handler), server)
        runner = ProjectionRunner(nc, js, engine, DuplicateDetector(sink, Thresholds()), batch=50, poison=policy)
        [rid] = await write_city(store, 1, 1)
        referrals: list[Event] = [ReferralMade(referral_id=f"r{n}", to_team=team, need="mobility and falls")
                                  for n, team in enumerate(("ot-central", "reab-central"))]
        async with running(runner):
            await store.append(rid, [wrap(e, event_id=uuid7(), resident_id=rid, actor=ACTOR,
                                          occurred_at=datetime.now(UTC), correlation_id="c") for e in referrals],
                               expected_seq=2)
            await asyncio.wait_for(sink.restarted.wait(), DEADLINE_S)
            deadline = asyncio.get_running_loop().time() + DEADLINE_S
            while not (flags := [e for e in await _events(store, rid) if isinstance(e, DuplicationFlagged)]):
                assert asyncio.get_running_loop().time() < deadline, (runner.status, "no flag")
                await asyncio.sleep(0.05)
            assert await runner.wait_for(await store.last_seq(), DEADLINE_S), runner.status
            assert runner.status.state == "live" and runner.status.parked == 0, runner.status
        assert sink.outages == 1
        assert [f.rule for f in flags] == ["parallel_referrals"]
        assert len([e for e in await _events(store, rid) if isinstance(e, DuplicationFlagged)]) == 1
        assert await count(engine, dead_letters) == 0
    finally:
        await nc.close()
        server.stop()


async def _events(store: JetStreamEventStore, rid: str) -> list[Event]:
    for _ in range(50):
        try:
            return [r.event for r in await store.read_resident(rid)]
        except Exception:  # the server is still coming back
            await asyncio.sleep(0.1)
    return [r.event for r in await store.read_resident(rid)]
