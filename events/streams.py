"""Creating (or upgrading) the streams and buckets of DESIGN §3. Safe to run on every start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from events.subjects import (
    AUDIT_STREAM,
    AUDIT_SUBJECTS,
    CARE_STREAM,
    CARE_SUBJECTS,
    IDEMPOTENCY_BUCKET,
    LEASES_BUCKET,
    MARKS_BUCKET,
    NHS_NUMBERS_BUCKET,
    TEAM_SUBJECTS,
    TEAMS_STREAM,
)

# How long a Nats-Msg-Id is remembered. Retries of one command come within seconds; longer retries are
# caught by the expected-sequence check and by the idempotency bucket.
DUPLICATE_WINDOW_S = 120.0
# How long a finished request is remembered for Idempotency-Key replays.
IDEMPOTENCY_TTL_S = 24 * 3600.0


def stream_configs(replicas: int) -> list[StreamConfig]:
    care = StreamConfig(
        name=CARE_STREAM,
        description="frontdoor: every contact, referral and handoff, one literal subject per resident",
        subjects=[CARE_SUBJECTS],
        storage=StorageType.FILE,
        # Events are never deleted: no age or size limit, and a full disk refuses new writes.
        discard=DiscardPolicy.NEW,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        allow_direct=True,
        allow_atomic=True,
    )
    teams = StreamConfig(
        name=TEAMS_STREAM,
        description="frontdoor: each team's consent-aware feed",
        subjects=[TEAM_SUBJECTS],
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        allow_direct=True,
    )
    audit = StreamConfig(
        name=AUDIT_STREAM,
        description="frontdoor: who viewed or exported which record, and why",
        subjects=[AUDIT_SUBJECTS],
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        num_replicas=replicas,
        allow_direct=True,
    )
    return [care, teams, audit]


async def ensure_streams(js: JetStreamContext, *, replicas: int = 1, lease_ttl_s: float = 10.0) -> None:
    for config in stream_configs(replicas):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
    buckets = ((NHS_NUMBERS_BUCKET, None), (IDEMPOTENCY_BUCKET, IDEMPOTENCY_TTL_S), (LEASES_BUCKET, lease_ttl_s),
               (MARKS_BUCKET, None))
    for bucket, ttl in buckets:
        try:
            await js.key_value(bucket)
        except NotFoundError:
            await js.create_key_value(
                KeyValueConfig(bucket=bucket, history=1, ttl=ttl, storage=StorageType.FILE, replicas=replicas)
            )


log = logging.getLogger("frontdoor.streams")
# A cluster elects its JetStream meta leader a few seconds after its nodes meet (longer after a crash); stream
# and bucket creation before that answers "JetStream system temporarily unavailable", times out, or finds no
# peers. Waiting here, bounded, replaces relying on the container restarting the process until it works.
READY_WITHIN_S = 60.0
RETRY_EVERY_S = 0.25
SAY_EVERY_S = 5.0


class JetStreamNotReady(RuntimeError):
    pass


async def ensure_streams_when_ready(js: JetStreamContext, *, replicas: int = 1, lease_ttl_s: float = 10.0,
                                    within: float = READY_WITHIN_S) -> None:
    """`ensure_streams`, retried until JetStream (its meta leader, and enough peers for `replicas`) answers, for
    at most `within` seconds; then a JetStreamNotReady naming the last error."""
    started = time.monotonic()
    said = 0.0
    while True:
        try:
            await ensure_streams(js, replicas=replicas, lease_ttl_s=lease_ttl_s)
        except (nats.errors.Error, TimeoutError) as exc:  # JetStream's own errors subclass nats.errors.Error
            waited = time.monotonic() - started
            if waited >= within:
                raise JetStreamNotReady(f"JetStream was not ready for streams at {replicas} replica(s) after "
                                        f"{within:g} s: {exc}") from exc
            if waited - said >= SAY_EVERY_S or said == 0.0:
                log.warning("waiting for JetStream (meta leader, %d replica(s)) to be ready: %s (%.0f s of %g s)",
                            replicas, exc, waited, within)
                said = waited or 1e-9
            await asyncio.sleep(RETRY_EVERY_S)
        else:
            if said:
                log.info("JetStream ready: streams and buckets in place after %.1f s", time.monotonic() - started)
            return


def team_durable_config(team_id: str) -> ConsumerConfig:
    """Team `team_id`'s own durable on TEAMS (DESIGN §9): created by the front door, never by the team, filtered to
    the team's subjects, explicit acks so a team system that stops mid-batch gets the rest again."""
    return ConsumerConfig(durable_name=f"team-{team_id}", name=f"team-{team_id}", filter_subject=f"team.{team_id}.>",
                          ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=30.0,
                          max_ack_pending=1000, description=f"frontdoor: the feed of team {team_id}")


async def ensure_team_durables(js: JetStreamContext, team_ids: Iterable[str]) -> None:
    """One durable per team of the directory; teams added since the last start get theirs now. An existing durable
    is left as it is (its position is the team's). One listing, not a look-up per team: every process pays this at
    start, and a slower start made a projector's first seconds count for less."""
    existing: set[str] = set()
    while True:  # the server lists 256 consumers a page
        page = await js.consumers_info(TEAMS_STREAM, offset=len(existing))
        existing |= {info.name for info in page}
        if len(page) < 256:
            break
    missing = [team_id for team_id in team_ids if f"team-{team_id}" not in existing]
    await asyncio.gather(*(js.add_consumer(TEAMS_STREAM, team_durable_config(team_id)) for team_id in missing))
