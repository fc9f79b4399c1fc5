"""A real nats-server started from the configuration `frontdoor nats-config` writes (accounts, passwords), the front
door connected to it as itself, and a team's connection made as a team system would make it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.embedded_nats import EmbeddedNats, free_port
from frontdoor.nats_config import FRONTDOOR_URL, SERVER_CONF, TEAM_API_PREFIX, team_inbox_prefix, team_url, write_config
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.teams import load_teams
from tests.conftest import bounded, database_url
from tests.integration.conftest import SECRET


@dataclass
class SecuredNats:
    folder: Path
    server: EmbeddedNats

    @property
    def frontdoor_url(self) -> str:
        return (self.folder / FRONTDOOR_URL).read_text().strip()


def start_secured(folder: Path) -> SecuredNats:
    port = free_port()
    write_config(folder, [t.id for t in load_teams(None).teams], host="127.0.0.1", port=port)
    server = EmbeddedNats(folder, port=port, config=folder / SERVER_CONF)
    server.start()
    return SecuredNats(folder, server)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    running = start_secured(tmp_path_factory.mktemp("secured-nats"))
    yield running
    running.server.stop()


@pytest.fixture
async def frontdoor(secured: SecuredNats, engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Services]:
    """The app on the secured server, with a fresh CARE, TEAMS and AUDIT (and the team durables made again), and a
    fresh read-model database (`engine` wipes it)."""
    client = await nats.connect(secured.frontdoor_url)
    js = client.jetstream()
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await client.close()
    settings = Settings(nats_url=secured.frontdoor_url, database_url=database_url(tmp_path), data_dir=tmp_path / "d",
                        jwt_secret=SECRET, read_wait_s=5.0)
    running = await start_services(settings, run_projections=True, serve_team_commands=True)
    yield running
    await bounded(stop_services(running), "the app's services")


@dataclass
class TeamClient:
    """A team's connection, set up as docs/OPERATIONS.md tells a team: its URL, its inbox prefix, the API prefix."""

    team_id: str
    nc: NATS
    errors: list[str] = field(default_factory=list)

    def js_api(self) -> nats.js.JetStreamContext:
        return self.nc.jetstream(prefix=TEAM_API_PREFIX)

    async def refused(self, what: str, within: float = 5.0) -> bool:
        """Whether the server answered `what` (a subject) with a permissions violation."""
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            if any(what.lower() in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.02)
        return False


async def team_client(secured: SecuredNats, team_id: str) -> TeamClient:
    client = TeamClient(team_id, nc=None)  # type: ignore[arg-type]

    async def collect(error: Exception) -> None:
        client.errors.append(str(error))

    client.nc = await nats.connect(team_url(secured.folder, team_id), inbox_prefix=team_inbox_prefix(team_id),
                                   error_cb=collect, max_reconnect_attempts=-1)
    return client


async def wait_until(check: Callable[[], object], *, within: float = 15.0, what: str = "a condition") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {within:g}s")
        await asyncio.sleep(0.05)


def subjects_of(errors: Sequence[str]) -> list[str]:
    return [e.rsplit(" ", 1)[-1].strip('"') for e in errors]


async def settled(services: Services) -> None:
    """Until nothing more comes of what was written: the detector (the one projection that appends) and the team
    router have applied everything in CARE."""
    while True:
        last = await services.store.last_seq()
        for projection in ("duplicate_detector", "team_router"):
            ok, _ = await services.wait_for(projection, last)
            assert ok, f"{projection} did not reach {last}"
        if await services.store.last_seq() == last:
            return
