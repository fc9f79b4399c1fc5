"""One data directory, one embedded nats-server: a second frontdoor command on the same directory (a demo city
written while `serve` runs) uses the running server instead of starting another on the same files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from events.catalogue import ResidentRegistered
from events.codec import wrap
from events.envelope import Actor
from events.ids import uuid7
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.settings import Settings
from tests.conftest import database_url


def settings(tmp_path: Path) -> Settings:
    return Settings(nats_url=None, data_dir=tmp_path / "data", database_url=database_url(tmp_path),
                    jwt_secret="shared-embedded-test-secret-0123456789")


async def test_a_second_process_on_the_same_data_directory_shares_the_running_server(tmp_path: Path) -> None:
    first = await start_services(settings(tmp_path), run_projections=False)
    try:
        second = await start_services(settings(tmp_path), run_projections=False)
        try:
            assert first.embedded is not None and second.embedded is None
            assert second.nc.connected_url is not None and first.embedded.url.endswith(
                f":{second.nc.connected_url.port}")
            rid = uuid7()
            person = ResidentRegistered(given_name="Ada", family_name="Lovelace", date_of_birth=date(1940, 12, 10),
                                        postcode="SO14 7LY")
            await second.store.append(rid, [wrap(person, event_id=uuid7(), resident_id=rid,
                                                 actor=Actor(id="t", role="call_handler"),
                                                 occurred_at=datetime.now(UTC), correlation_id="c")], expected_seq=0)
        finally:
            await stop_services(second)  # not its server to stop
        assert [e.resident_id for e in await first.store.read_resident(rid)] == [rid]
    finally:
        await stop_services(first)
    assert not (tmp_path / "data" / "nats.url").exists()

    third = await start_services(settings(tmp_path), run_projections=False)  # the lock is free again: its own
    try:
        assert third.embedded is not None
        assert [e.resident_id for e in await third.store.read_resident(rid)] == [rid]  # the same files
    finally:
        await stop_services(third)
