"""What every benchmark shares: a throwaway JetStream, event factories, percentiles and the result rows."""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from events.catalogue import Caller, ContactRecorded, Event, ResidentRegistered
from events.codec import wrap
from events.envelope import Actor, Envelope
from events.ids import uuid7
from events.streams import ensure_streams
from frontdoor.embedded_nats import EmbeddedNats

ACTOR = Actor(id="b", role="call_handler")
CALLER = Caller(relationship="self")


@dataclass(frozen=True, slots=True)
class Row:
    """One figure beside its baseline. `goal` is a minimum ratio (figure / baseline) unless `goal_text` says
    otherwise; `met` is None for figures reported for information only."""

    bench: str
    metric: str
    figure: float
    unit: str
    baseline: float | None = None
    goal: float | None = None
    met: bool | None = None
    goal_text: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.figure / self.baseline


def ratio_row(bench: str, metric: str, figure: float, baseline: float, unit: str, goal: float) -> Row:
    met = baseline > 0 and figure / baseline >= goal
    return Row(bench, metric, figure, unit, baseline, goal, met, f">= {goal:g}x")


def info_row(bench: str, metric: str, figure: float, unit: str, baseline: float | None = None) -> Row:
    return Row(bench, metric, figure, unit, baseline)


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table: figure, baseline, ratio, goal, met."""
    lines = ["| benchmark | metric | frontdoor | baseline | unit | ratio | goal | met |",
             "| --- | --- | ---: | ---: | --- | ---: | --- | --- |"]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(f"| {r.bench} | {r.metric} | {fmt(r.figure)} | {fmt(r.baseline)} | {r.unit} | {ratio} | "
                     f"{r.goal_text or '-'} | {met} |")
    return "\n".join(lines)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"frontdoor-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class JetStream:
    server: EmbeddedNats
    nc: NATS
    js: JetStreamContext
    workdir: Path


@asynccontextmanager
async def jetstream(prefix: str) -> AsyncIterator[JetStream]:
    """The project's own nats-server on a free loopback port, with the streams of DESIGN §3, then cleaned up."""
    with temp_dir(prefix) as workdir:
        server = EmbeddedNats(workdir / "nats").start()
        try:
            nc = await nats.connect(server.url, name=f"bench-{prefix}", max_reconnect_attempts=0)
            try:
                js = nc.jetstream()
                await ensure_streams(js)
                yield JetStream(server, nc, js, workdir)
            finally:
                await nc.close()
        finally:
            server.stop()


def envelope(resident_id: str, event: Event) -> Envelope:
    return wrap(event, event_id=uuid7(), resident_id=resident_id, actor=ACTOR, occurred_at=datetime.now(UTC),
                correlation_id=uuid7())


def registration(n: int) -> ResidentRegistered:
    return ResidentRegistered(given_name=f"Given{n}", family_name=f"Family{n % 997}",
                              date_of_birth=date(1930 + n % 70, 1 + n % 12, 1 + n % 28), postcode="SO14 7LY")


def contact(n: int) -> ContactRecorded:
    return ContactRecorded(contact_id=uuid7(), channel="phone", caller=CALLER, needs=["housing"], urgency="routine",
                           safeguarding=False, summary=f"bench contact {n}", outcome="advice")


def city_person(i: int) -> tuple[date, str]:
    """Birth date and postcode of the i-th of a city's residents: spread so that blocks stay small and no two
    near neighbours look like one person."""
    return (date(1925 + i % 70, 1 + i % 12, 1 + i % 28),
            f"SO{14 + i % 6} {i % 9}{'ABDEFGHJL'[i % 9]}{'NPQRSTUWX'[i // 9 % 9]}")
