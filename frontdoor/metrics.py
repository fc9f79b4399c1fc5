"""Every Prometheus metric of the process, defined once (DESIGN §9 "Operations").

Counters and histograms are updated where things happen (requests, appends, audit writes, flags). Projection lag
and consumer pending are not counted as they go: they are measured when Prometheus scrapes (`refresh`), from the
stream's last message, the projections' checkpoints and the durable consumers, so that every process (API or
projector, lease holder or standby) reports the same truth about a projection.

Labels never carry ids or personal data: routes are labelled by their template (`/residents/{resident_id}`),
projections and rules by their fixed names.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from events.errors import ConcurrencyConflict

# Latency buckets from a 1 ms direct get to the 5 s read-your-writes wait and the 10 s batch commit limit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Histogram("frontdoor_http_request_duration_seconds",
                          "HTTP request latency by route template, method and status",
                          ["route", "method", "status"], buckets=LATENCY_BUCKETS)
APPEND_SECONDS = Histogram("frontdoor_append_duration_seconds",
                           "Latency of one append to CARE (expected-sequence publish or atomic batch)",
                           buckets=LATENCY_BUCKETS)
APPEND_CONFLICTS = Counter("frontdoor_append_conflicts_total",
                           "Appends refused because the resident changed meanwhile, or another write to it was still "
                           "being agreed on (err_code 10071, 10164); each is retried")
AUDIT_WRITES = Counter("frontdoor_audit_writes_total", "RecordViewed/ExportMade events written to AUDIT")
AUDIT_FAILURES = Counter("frontdoor_audit_failures_total",
                         "Audit writes that failed (the record was then not shown)")
FLAGS_RAISED = Counter("frontdoor_flags_raised_total", "DuplicationFlagged events written by the detector",
                       ["rule"])

LAG_EVENTS = Gauge("frontdoor_projection_lag_events",
                   "Events in the projection's stream not yet applied by it", ["projection"])
LAG_SECONDS = Gauge("frontdoor_projection_lag_seconds",
                    "Age of the oldest event the projection has not applied yet (0 when caught up)", ["projection"])
CONSUMER_PENDING = Gauge("frontdoor_projection_consumer_pending",
                         "Messages pending on the projection's durable consumer, as the server counts them",
                         ["projection"])
APPLIED_SEQ = Gauge("frontdoor_projection_applied_seq", "Stream sequence the projection has applied",
                    ["projection"])
PROJECTION_FAILED = Gauge("frontdoor_projection_failed",
                          "1 when this process's runner of the projection stopped on a poison event", ["projection"])
PROJECTION_PARKED = Gauge("frontdoor_projection_parked",
                          "Events this process's runner parked on the dead-letter table since it started",
                          ["projection"])
STREAM_LAST_SEQ = Gauge("frontdoor_stream_last_seq", "Last sequence of each stream", ["stream"])
SCRAPE_ERRORS = Counter("frontdoor_metrics_refresh_errors_total",
                        "Scrape-time measurements that could not be taken (NATS or the database unreachable)",
                        ["what"])


@contextlib.contextmanager
def timed_append() -> Iterator[None]:
    """Around one append: its latency, and a count of the conflicts it met."""
    started = time.perf_counter()
    try:
        yield
    except ConcurrencyConflict:
        APPEND_CONFLICTS.inc()
        raise
    finally:
        APPEND_SECONDS.observe(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Position:
    """What a scrape learns about one projection."""

    projection: str
    stream: str
    applied_seq: int
    consumer_pending: int | None
    failed: bool = False
    parked: int = 0


@dataclass(frozen=True, slots=True)
class StreamEnd:
    last_seq: int


def lag_events(position: Position, end: StreamEnd) -> int:
    return max(0, end.last_seq - position.applied_seq)


def lag_seconds(oldest_unapplied: datetime | None, now: datetime) -> float:
    """How long the oldest event the projection has not applied has been waiting: what a reader feels."""
    if oldest_unapplied is None:
        return 0.0
    return max(0.0, (now - oldest_unapplied).total_seconds())


def record(position: Position, end: StreamEnd | None, oldest_unapplied: datetime | None) -> None:
    name = position.projection
    APPLIED_SEQ.labels(name).set(position.applied_seq)
    if end is not None:
        lag = lag_events(position, end)
        LAG_EVENTS.labels(name).set(lag)
        LAG_SECONDS.labels(name).set(lag_seconds(oldest_unapplied if lag else None, datetime.now(UTC)))
    if position.consumer_pending is not None:
        CONSUMER_PENDING.labels(name).set(position.consumer_pending)
    PROJECTION_FAILED.labels(name).set(1 if position.failed else 0)
    PROJECTION_PARKED.labels(name).set(position.parked)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text of everything above, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST

