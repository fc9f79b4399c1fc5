"""Projection lag measured at scrape time (DESIGN §9): for each projection, its applied sequence (the lease holder's
own count, else the checkpoint row), the stream's last sequence, the time of the oldest event it has not applied,
and its durable consumer's pending count as the server sees it.

Each measurement is bounded and independent: with NATS or the database down, a scrape still answers with what it
could measure (and counts what it could not), because an operator needs metrics most exactly then.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from nats.js import JetStreamContext

from events.subjects import AUDIT_STREAM, CARE_STREAM
from frontdoor import metrics
from frontdoor.services import Services
from projections.queries import checkpoint

log = logging.getLogger("frontdoor.metrics")
# The projections of a process that runs none itself (they still have checkpoints to report).
KNOWN = {"resident_view": CARE_STREAM, "caseload": CARE_STREAM, "flags": CARE_STREAM,
         "duplicate_detector": CARE_STREAM, "team_router": CARE_STREAM, "audit_log": AUDIT_STREAM}
STEP_S = 2.0


async def refresh(services: Services) -> None:
    streams = {name: getattr(r.projection, "stream", CARE_STREAM) for name, r in services.runners.items()} or KNOWN
    stored = await _checkpoints(services, list(streams))
    ends: dict[str, metrics.StreamEnd | None] = {}
    for stream in sorted(set(streams.values())):
        ends[stream] = await _stream_end(services.js, stream)
        if ends[stream] is not None:
            metrics.STREAM_LAST_SEQ.labels(stream).set(ends[stream].last_seq)  # type: ignore[union-attr]
    for name, stream in streams.items():
        runner = services.runners.get(name)
        applied = stored.get(name, 0)
        if runner is not None and runner.leading:
            applied = max(applied, runner.status.applied_seq)  # past ignored events its row is written lazily
        end = ends[stream]
        oldest = None
        if end is not None and end.last_seq > applied:
            oldest = await _time_of(services.js, stream, applied + 1)
        position = metrics.Position(
            projection=name, stream=stream, applied_seq=applied,
            consumer_pending=await _consumer_pending(services.js, stream,
                                                     runner.durable if runner else f"projection-{name}"),
            failed=runner is not None and runner.status.state == "failed",
            parked=runner.status.parked if runner is not None else 0,
        )
        metrics.record(position, end, oldest)


async def _checkpoints(services: Services, names: list[str]) -> dict[str, int]:
    try:
        async with asyncio.timeout(STEP_S), services.engine.connect() as conn:
            return {name: await checkpoint(conn, name) for name in names}
    except Exception as exc:
        _failed("checkpoints", exc)
        return {}


async def _stream_end(js: JetStreamContext, stream: str) -> metrics.StreamEnd | None:
    try:
        info = await asyncio.wait_for(js.stream_info(stream), STEP_S)
    except Exception as exc:
        _failed("stream_info", exc)
        return None
    return metrics.StreamEnd(last_seq=int(info.state.last_seq or 0))


async def _time_of(js: JetStreamContext, stream: str, seq: int) -> datetime | None:
    """The stream time of the message at `seq` (or the next one, if it was removed)."""
    try:
        msg = await asyncio.wait_for(js.get_msg(stream, seq=seq), STEP_S)
    except Exception as exc:
        _failed("oldest_unapplied", exc)
        return None
    return _as_time(msg.time)


async def _consumer_pending(js: JetStreamContext, stream: str, durable: str) -> int | None:
    try:
        info = await asyncio.wait_for(js.consumer_info(stream, durable), STEP_S)
    except Exception:
        return None  # not created yet (a projection that never ran here): nothing to report
    return int(info.num_pending or 0)


def _as_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        # The server writes nanoseconds ("…T09:14:03.123456789Z"); Python reads at most microseconds.
        head, _, rest = value.rstrip("Z").partition(".")
        fraction = rest[:6]
        try:
            return datetime.fromisoformat(f"{head}.{fraction or '0'}").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def _failed(what: str, exc: BaseException) -> None:
    metrics.SCRAPE_ERRORS.labels(what).inc()
    log.warning("metrics: could not measure %s: %s", what, exc)
