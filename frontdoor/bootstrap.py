"""The composition root (STYLE §1): settings -> NATS -> store -> database -> projections -> services.
Nothing else reaches for globals or the environment; everything is handed in from here."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine, Iterable
from typing import Any

import nats
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from events.claims import NhsNumberClaims
from events.store import JetStreamEventStore
from events.streams import ensure_streams_when_ready, ensure_team_durables
from events.subjects import CARE_STREAM, IDEMPOTENCY_BUCKET
from frontdoor.audit import AuditLog
from frontdoor.embedded_nats import EmbeddedNats, shared_server
from frontdoor.flagging import FlagWriter
from frontdoor.handling import CommandHandler
from frontdoor.idempotency import IdempotencyKeys
from frontdoor.projector import announcer
from frontdoor.resident_states import ResidentStates
from frontdoor.services import Services
from frontdoor.settings import Settings
from frontdoor.team_commands import team_command_broker
from frontdoor.teams import load_teams
from projections.audit_projection import AuditProjection
from projections.caseload_projection import CaseloadProjection
from projections.database import create_engine, create_tables
from projections.decoded_events import DecodedEvents
from projections.detector import DuplicateDetector
from projections.emitted_marks import EmittedMarks
from projections.flags_projection import FlagsProjection
from projections.projection import Projection
from projections.resident_view_projection import ResidentViewProjection
from projections.rules import Thresholds
from projections.runner import ProjectionRunner
from projections.shared_feed import CAPACITY as SHARED_CAPACITY
from projections.shared_feed import SharedFeed
from projections.tables import metadata
from projections.team_router import TeamFeedRouter

log = logging.getLogger("frontdoor")
# Events a projection folds per transaction while far behind the stream (the runner's window), and so what the
# shared consumer of a stream keeps ready for its readers. Windows open at one pull after every start and double
# up to this, so a projector killed every few seconds still commits (tests/integration/test_projector_crash.py).
# All six projections from zero on the 20,000-resident city, SQLite: 25.2-25.8 s with 2,000, 20.7-21.0 s
# with 10,000 (scratch runs, alternated).
WINDOW = 10_000


# In the order all_projections makes them: what `frontdoor project --only` accepts.
PROJECTION_NAMES = (ResidentViewProjection.name, CaseloadProjection.name, FlagsProjection.name,
                    DuplicateDetector.name, TeamFeedRouter.name, AuditProjection.name)


def all_projections(services: Services) -> list[Projection]:
    s = services.settings
    thresholds = Thresholds(repeat_assessment_days=s.repeat_assessment_days, story_contacts=s.story_contacts,
                            story_days=s.story_days, ping_pong_days=s.ping_pong_days, person_match=s.person_match)
    directory = services.teams

    def team_info(team_id: str) -> tuple[str | None, str | None]:
        team = directory.get(team_id)
        return (team.organisation, team.sector) if team else (None, None)

    return [ResidentViewProjection(), CaseloadProjection(), FlagsProjection(),
            DuplicateDetector(FlagWriter(services.handler), thresholds, EmittedMarks(services.js, CARE_STREAM)),
            TeamFeedRouter(services.js, team_info),
            AuditProjection()]


async def connect_nats(settings: Settings, team_ids: Iterable[str] = ()) -> tuple[NATS, EmbeddedNats | None]:
    embedded = None
    url = settings.nats_url
    if not url:
        # Started from this thread, not a worker thread: the child is tied to the thread that made it
        # (PR_SET_PDEATHSIG), and a pool thread may end before the process does. It is ready in ~0.1 s.
        url, embedded = shared_server(settings.resolved_data_dir() / "nats", team_ids=team_ids)
        if embedded is not None:
            log.info("embedded nats-server on %s (data in %s)", embedded.url, embedded.store_dir)
        else:
            log.info("using the nats-server another frontdoor process runs for this data directory")
    servers = [u.strip() for u in url.split(",") if u.strip()]
    nc = await nats.connect(servers=servers, max_reconnect_attempts=-1, name="frontdoor")
    return nc, embedded


async def start_services(settings: Settings, *, run_projections: bool, serve_team_commands: bool = False,
                         ) -> Services:
    teams = load_teams(settings.teams_file)
    nc, embedded = await connect_nats(settings, [t.id for t in teams.teams])
    js = nc.jetstream()
    await ensure_streams_when_ready(js, replicas=settings.stream_replicas, lease_ttl_s=settings.lease_ttl_s)
    await ensure_team_durables(js, [t.id for t in teams.teams])
    engine = create_engine(settings.resolved_database_url())
    await create_tables(engine, metadata)  # several processes may start at once (issue 14)
    store = JetStreamEventStore(nc, js)
    states = ResidentStates(store, capacity=settings.state_cache_size)
    services = Services(
        settings=settings,
        nc=nc,
        js=js,
        store=store,
        claims=await NhsNumberClaims.open(js),
        idempotency=IdempotencyKeys(await js.key_value(IDEMPOTENCY_BUCKET)),
        states=states,
        handler=CommandHandler(store, states, retries=settings.command_retries,
                               patience_s=settings.command_patience_s),
        engine=engine,
        teams=teams,
        audit=AuditLog(js),
        jwt_secret=settings.resolved_jwt_secret(),
        embedded=embedded,
    )
    if run_projections:
        start_projections(services)
    if serve_team_commands:
        services.broker = team_command_broker(services, nats_servers(nc))
        await services.broker.start()
    return services


def nats_servers(nc: NATS) -> list[str]:
    """The servers (with credentials) this process connected to: also right when another process owns the
    embedded server, where FRONTDOOR_NATS_URL is unset (a second `serve` got NoServersError from an empty list)."""
    discovered = {u.geturl() for u in nc.discovered_servers}
    return [u.geturl() for u in nc.servers if u.geturl() not in discovered]


def projection_runners(services: Services, *, engine: AsyncEngine | None = None,
                       instance: str = "") -> dict[str, ProjectionRunner]:
    """The runners of every projection, on the live read models, or (`engine`, `instance`) on a second set. The
    projections of one stream read it once in this process (a shared consumer) and decode each event once."""
    s = services.settings
    stream_of = {p: str(getattr(p, "stream", CARE_STREAM)) for p in all_projections(services)}
    readers = Counter(stream_of.values())
    shared = {stream: SharedFeed(services.nc, services.js, stream=stream, batch=s.projection_batch,
                                 prefetch=WINDOW, name=f"projections-{stream}{f'-{instance}' if instance else ''}")
              for stream, count in readers.items() if count > 1}
    decoded = DecodedEvents(capacity=SHARED_CAPACITY)  # as many as the shared window keeps between its readers
    return {
        p.name: ProjectionRunner(services.nc, services.js, engine or services.engine, p, batch=s.projection_batch,
                                 poison=s.poison_policy, lease_ttl_s=s.lease_ttl_s,
                                 stream=stream_of[p], decoded=decoded, instance=instance,
                                 # wakes min_seq reads in other processes: the live set's positions only
                                 announce=None if instance else announcer(services.nc), window=WINDOW,
                                 shared=shared.get(stream_of[p]),
                                 # the team feeds' latency is the router's (issue 11): it never waits
                                 gather_s=0.0 if isinstance(p, TeamFeedRouter) else s.projection_gather_s,
                                 # A second set writes down every batch, those it passes over too: its switch
                                 # compares the checkpoints as written, and if both sets wrote theirs once a
                                 # second, each at a phase of its own under steady writes, the moments when the
                                 # second set is ahead for every projection at once could be rare or none.
                                 skipped_checkpoint_every_s=0.0 if instance else None)
        for p in stream_of
    }


def start_projections(services: Services) -> None:
    services.runners = projection_runners(services)
    for runner in services.runners.values():
        services.tasks.append(asyncio.create_task(runner.run(), name=f"projection-{runner.name}"))


async def stop_services(services: Services) -> None:
    """Stops everything, each step bounded: a shutdown that hangs on one stuck part helps nobody. Never swallows
    the caller's own cancellation (awaiting the cancelled tasks directly under suppress(BaseException) did)."""
    if services.broker is not None:
        await _bounded(services.broker.stop(), "team command broker", 10)
    for task in services.tasks:
        task.cancel()
    if services.tasks:
        _, stuck = await asyncio.wait(services.tasks, timeout=10)
        for task in stuck:
            log.warning("%s did not stop within 10 s of being cancelled", task.get_name())
    if not await _bounded(services.nc.drain(), "NATS drain", 10):
        await _bounded(services.nc.close(), "NATS close", 5)
    await _bounded(services.engine.dispose(), "database engine", 10)
    if services.embedded is not None:
        await asyncio.to_thread(services.embedded.stop)


async def _bounded(step: Coroutine[Any, Any, Any], what: str, within: float) -> bool:
    try:
        await asyncio.wait_for(step, within)
    except TimeoutError:
        log.warning("stopping %s took longer than %g s; going on", what, within)
        return False
    except Exception as exc:  # a part that is already broken is as good as stopped
        log.warning("stopping %s: %s", what, exc)
        return False
    return True
