"""The projection runner: feed -> decode -> apply in one transaction with the checkpoint -> wake readers.

Exactly-once effect: events at or below the stored checkpoint are skipped, and rows and checkpoint commit
together, so a redelivery never applies twice and a crash never loses one.

Poison events never stop the world silently: by default the runner stops with an error naming the sequence;
with `poison="park"` the event goes to `projection_dead_letters` with the reason (same transaction as the
checkpoint) and the runner goes on. Both show in `status` (and so in /health). Stopped on sequence N, the runner
keeps its lease and looks every few seconds for an operator's `EventSuperseded` naming N on N's subject; once
there is one, N is recorded in the dead letters as superseded and the projection goes on from N + 1.

Only the event's own fault is poison (`faults`): a database or NATS failure is retried with capped exponential
backoff for as long as it lasts, shown in `status` as `waiting_for_database` / `waiting_for_nats`, and never
parks or stops on an event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import orjson
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import RecordedEvent
from events.subjects import CARE_STREAM
from projections.cancellation import raise_if_cancelled
from projections.checkpoints import CheckpointMoved, advance_checkpoint, load_checkpoint
from projections.database import unbroken, write_transaction
from projections.decoded_events import DecodedEvents
from projections.faults import is_transient, waiting_state
from projections.feed import Delivery, FeedGap, PullFeed
from projections.lease import Lease
from projections.projection import Prepares, Projection, Reading, Remembers
from projections.shared_feed import FeedReader, SharedFeed
from projections.supersession import find_supersession
from projections.tables import checkpoints, dead_letters

log = logging.getLogger("frontdoor.projections")
# How long a checkpoint may stay unwritten while only events the projection ignores go by: those need no
# transaction of their own, and replaying them after a crash costs nothing (they are skipped again).
SKIPPED_CHECKPOINT_EVERY_S = 1.0
# A catch-up window closes after this long gathering, whatever its size: every window is a commit, and a projector
# killed more often than one window takes would otherwise never get anywhere.
WINDOW_GATHER_S = 0.5
# How long a live gathering looks for what arrived: long enough for one pull into a shared window, no more.
GATHER_LOOK_S = 0.002
# Retries of a failing database or NATS: from FIRST_RETRY_S, doubling, at most MAX_RETRY_S apart.
FIRST_RETRY_S = 0.1
MAX_RETRY_S = 5.0


class ProjectionStopped(RuntimeError):
    def __init__(self, projection: str, seq: int, reason: str, delivery: Delivery | None = None) -> None:
        super().__init__(f"projection {projection} stopped at stream sequence {seq}: {reason}")
        self.seq = seq
        self.reason = reason
        self.delivery = delivery


@dataclass
class RunnerStatus:
    # starting | standby | catching_up | live | waiting_for_database | waiting_for_nats | failed | stopped
    state: str = "starting"
    applied_seq: int = 0
    pending: int = 0
    parked: int = 0
    error: str | None = None
    events_applied: int = 0
    superseded: int = 0  # poison events passed over because an operator superseded them
    started_at: float = field(default_factory=time.time)


class ProjectionRunner:
    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        engine: AsyncEngine,
        projection: Projection,
        *,
        batch: int = 500,
        poison: str = "stop",
        stream: str = CARE_STREAM,
        lease_ttl_s: float = 10.0,
        decoded: DecodedEvents | None = None,
        supersession_poll_s: float = 2.0,
        instance: str = "",
        announce: Callable[[str, int], Awaitable[None]] | None = None,
        window: int = 2_000,
        shared: SharedFeed | None = None,
        gather_s: float = 0.0,
        skipped_checkpoint_every_s: float | None = None,
    ) -> None:
        """`instance` names a second set of runners of the same projections (a rebuild beside the live read
        models): its own durable consumer and its own lease, so it neither steals from nor waits for the live set.
        `shared`: the stream as this process reads it once for all its projections (the composition root hands
        the runners of one stream one); the runner's own durable is then only for when it is far from the others.
        `gather_s`: live and busy, commits at most this often, each taking what arrived meanwhile (see
        `_gather_live`); 0 commits each arrival as it comes. `skipped_checkpoint_every_s` (default
        SKIPPED_CHECKPOINT_EVERY_S): how long the checkpoint may stay unwritten over batches that write nothing;
        a rebuild's set uses 0, as its switch compares the checkpoints as written."""
        self.projection = projection
        self._js = js
        self._stream = stream
        self._decoded = decoded or DecodedEvents()  # the composition root hands all runners one
        self.status = RunnerStatus()
        self._engine = engine
        self._poison = poison
        suffix = f"-{instance}" if instance else ""
        own = PullFeed(nc, js, stream=stream, durable=f"projection-{projection.name}{suffix}", batch=batch,
                       prefetch=window)
        self._feed: PullFeed | FeedReader = shared.reader(own) if shared is not None else own
        self._advanced = asyncio.Condition()
        self.lease = Lease(js, f"{projection.name}{suffix}", ttl_s=lease_ttl_s)
        self._stored_seq = 0  # the checkpoint as written; applied_seq may run ahead of it over skipped events
        self._stored_at = 0.0
        self._advanced_at = 0.0  # when it last applied (or passed over) a batch: live gathering counts from it
        self._retry_in = FIRST_RETRY_S
        self._nc = nc
        self._supersession_poll_s = supersession_poll_s
        self._announce = announce  # tells readers in other processes how far it has applied
        self._window = max(window, 1)
        self._opening = self._window  # the window now: it opens at one pull after each start and doubles
        self._gather_s = max(gather_s, 0.0)
        self._skipped_every = SKIPPED_CHECKPOINT_EVERY_S if skipped_checkpoint_every_s is None \
            else skipped_checkpoint_every_s

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def leading(self) -> bool:
        return self.lease.held

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def durable(self) -> str:
        """The consumer this runner reads through just now (shared by the process's projections, or its own)."""
        return self._feed.durable

    async def retire(self) -> None:
        """Removes this runner's durable consumer (a rebuild's, once its read models are switched in)."""
        await self._feed.delete()

    async def run(self) -> None:
        """Applies events while holding the projection's lease, until cancelled. Without the lease it waits as a
        standby. A poison event (default policy) stops the applying, not the run: it waits, holding the lease, for
        the event to be superseded. A database or NATS failure anywhere (taking the lease, reading the checkpoint,
        applying) is waited out, never the end of the run."""
        try:
            while True:
                raise_if_cancelled()
                self.status.state = "standby"
                failure: Exception | None = None
                try:
                    await self.lease.acquire()
                    await self._lead()
                except CheckpointMoved as moved:
                    log.warning("%s; standing by", moved)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    failure = exc
                finally:
                    await self._feed.stop()
                    await self.lease.release()
                if failure is not None:
                    await self._pause(failure)  # without the lease: a healthier process may take over
        except Exception as exc:  # a defect, not an event's fault nor a dependency's: say so and end
            self.status.state, self.status.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("projection %s ended", self.name)
            raise
        finally:
            if self.status.state != "failed":
                self.status.state = "stopped"

    async def _pause(self, failure: BaseException) -> None:
        """Shows whose failure it is in `status` (so in /health: not "live" while it lasts), then waits before
        the next try, twice as long each time up to MAX_RETRY_S."""
        raise_if_cancelled()
        self.status.state = waiting_state(failure)
        whose = "database" if self.status.state == "waiting_for_database" else "NATS"
        self.status.error = f"{whose} unavailable, retrying: {type(failure).__name__}: {str(failure)[:300]}"
        log.warning("projection %s: %s unavailable (%s: %s); retrying in %.1fs", self.name, whose,
                    type(failure).__name__, failure, self._retry_in)
        await asyncio.sleep(self._retry_in)
        self._retry_in = min(self._retry_in * 2, MAX_RETRY_S)

    def _recovered(self) -> None:
        self._retry_in = FIRST_RETRY_S
        if self.status.state.startswith("waiting_for_"):
            self.status.state, self.status.error = "catching_up", None

    async def _lead(self) -> None:
        self._forget()  # another holder may have moved on since this process last led
        self.status.applied_seq = self._stored_seq = await unbroken(self._load_checkpoint())
        self._stored_at = time.monotonic()
        # Another process may have applied up to here (a catch-up helper, a leader before this one): whoever waits
        # for a position it already covers must hear it now, not at this process's first batch, which may never
        # come while the stream is quiet.
        async with self._advanced:
            self._advanced.notify_all()
        await self._feed.start(self.status.applied_seq)
        # The first windows are what one pull brings, committed as soon as they would be without windows (a
        # projector restarted often still gets somewhere); the window then doubles up to `window` while the
        # catch-up lasts, and gathers more than a pull once it exceeds one.
        self._opening = 1
        self._recovered()  # the database answered and NATS did: a failed write shows again at its retry
        self.status.state = "live" if await self._stream_end() <= self.status.applied_seq else "catching_up"
        while not self.lease.lost.is_set():
            raise_if_cancelled()
            try:
                deliveries = await self._feed.next_batch(max_wait=1.0)
            except FeedGap as gap:
                log.warning("%s; restarting from %d", gap, self.status.applied_seq)
                await self._feed.start(self.status.applied_seq)
                continue
            deliveries += await self._rest_of_window(deliveries)
            deliveries += await self._gather_live(deliveries)
            fresh = [d for d in deliveries if d.seq > self.status.applied_seq]
            try:
                if fresh:
                    await self._apply_with_retry(fresh)
                    self.status.pending = fresh[-1].pending
                elif self._stored_seq < self.status.applied_seq:
                    await self._apply_with_retry([])  # idle: write down how far the skipped events went
            except ProjectionStopped as stopped:
                await self._feed.stop()
                if not await self._stopped_until_superseded(stopped):
                    return  # the lease went meanwhile
                await self._feed.start(self.status.applied_seq)
                continue
            if (not deliveries and not self._feed.held_back) or (deliveries and deliveries[-1].pending == 0):
                self.status.state = "live"
                self.status.pending = 0

    async def _rest_of_window(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Far behind the stream's end (catching up, rebuilding), more events than one pull: up to `window` (or
        what WINDOW_GATHER_S brings) are applied in one transaction, each resident's documents folded in memory
        and written once per window rather than once per pull. Near the end nothing waits: live events go as
        they come."""
        more: list[Delivery] = []
        until = time.monotonic() + WINDOW_GATHER_S
        window, self._opening = self._opening, min(self._opening * 2, self._window)
        while deliveries and (more or deliveries)[-1].pending > 0 and len(deliveries) + len(more) < window \
                and time.monotonic() < until:
            taken = await self._take(1.0, window - len(deliveries) - len(more))
            if not taken:
                break
            more += taken
        return more

    async def _gather_live(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Live (at the stream's end) and busy: the next batch waits until `gather_s` after the last one and takes
        every event that arrived meanwhile. Each commit costs a transaction, the checkpoint and a statement per
        table, and under load the projector committed hundreds of transactions a second of an event or two each
        (issue 15; the gain measured was modest: docs/BENCHMARKS.md). Batches it passes over count too: at 250
        events a second, each projection that ignores contacts went round its loop, announced and woke its readers
        once per event. After a quiet spell the first event goes at once; under load an event waits at most
        `gather_s` more."""
        if not deliveries or self._gather_s <= 0 or deliveries[-1].pending > 0:
            return []
        hold = self._advanced_at + self._gather_s - time.monotonic()
        if hold <= 0:
            return []
        await asyncio.sleep(hold)
        more: list[Delivery] = []
        while len(deliveries) + len(more) < self._window:
            taken = await self._take(GATHER_LOOK_S, self._window - len(deliveries) - len(more))
            if not taken:
                break
            more += taken
        return more

    async def _take(self, max_wait: float, limit: int) -> list[Delivery]:
        """More for the batch being gathered; nothing at a gap: what was taken stays contiguous, and the next pull
        raises the gap again and restarts the feed."""
        try:
            return await self._feed.next_batch(max_wait=max_wait, limit=limit)
        except FeedGap:
            return []

    async def _stopped_until_superseded(self, stopped: ProjectionStopped) -> bool:
        """Stays stopped (state `failed`, the error naming the sequence) until an operator supersedes the event;
        then records it as superseded and returns True. False if the lease is lost meanwhile."""
        self.status.state, self.status.error = "failed", str(stopped)
        log.error("%s; waiting for an EventSuperseded naming it", stopped)
        delivery = stopped.delivery
        while not self.lease.lost.is_set():
            raise_if_cancelled()
            found = None
            if delivery is not None and delivery.subject:
                try:
                    found = await find_supersession(self._nc, self._stream, delivery.subject, stopped.seq)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    log.warning("projection %s: cannot look for a supersession just now: %s", self.name, exc)
            if found is not None and delivery is not None:
                by, why = found
                reason = f"superseded by stream sequence {by}: {why} (it failed with {stopped.reason})"
                await self._with_retry(partial(self._park, delivery, reason, superseded=True))
                await self._advance(delivery.seq, 1)
                self.status.state, self.status.error = "catching_up", None
                log.warning("projection %s passed over stream sequence %d: %s", self.name, stopped.seq, reason)
                return True
            await asyncio.sleep(self._supersession_poll_s)
        return False

    async def _with_retry(self, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
                self._recovered()
                return
            except Exception as exc:
                if not is_transient(exc) or self.lease.lost.is_set():
                    raise
                await self._pause(exc)

    async def _apply_with_retry(self, deliveries: list[Delivery]) -> None:
        """Applies the batch, waiting out database and NATS failures (the detector's own writes go through
        NATS) for as long as they last and this process leads. Events already applied one at a time before a
        failure are not applied again."""
        while True:
            todo = [d for d in deliveries if d.seq > self.status.applied_seq]
            if deliveries and not todo:
                self._recovered()
                return
            try:
                await self._apply(todo)
            except CheckpointMoved:
                raise
            except Exception as exc:
                if not is_transient(exc) or self.lease.lost.is_set():
                    raise
                await self._pause(exc)
                continue
            self._recovered()
            return

    async def _apply(self, deliveries: list[Delivery]) -> None:
        """Applies a batch in one transaction with the checkpoint; with no deliveries, only writes the checkpoint."""
        try:
            handled = [d for d in deliveries if self._handles(d)]
            if deliveries and not handled and self._checkpoint_may_wait():
                await self._advance(deliveries[-1].seq, len(deliveries))  # nothing to write yet
                return
            await self._commit([self._decoded.get(self._stream, d.seq, d.data, d.previous_seq) for d in handled],
                               deliveries[-1].seq if deliveries else self.status.applied_seq)
        except CheckpointMoved:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            # Something in this batch cannot be applied: find which event, one at a time.
            for delivery in deliveries:
                await self._apply_one(delivery)
            return
        if deliveries:
            await self._advance(deliveries[-1].seq, len(deliveries))

    async def _apply_one(self, delivery: Delivery) -> None:
        try:
            await self._commit([self._decoded.get(self._stream, delivery.seq, delivery.data,
                                              delivery.previous_seq)]
                               if self._handles(delivery) else [],
                               delivery.seq)
        except CheckpointMoved:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            reason = f"{type(exc).__name__}: {exc}"
            if self._poison != "park":
                raise ProjectionStopped(self.name, delivery.seq, reason, delivery) from exc
            await self._park(delivery, reason)
        await self._advance(delivery.seq, 1)

    async def _load_checkpoint(self) -> int:
        async with self._engine.connect() as conn:  # a read: no need to queue with the writers
            return await load_checkpoint(conn, self.name)

    async def _commit(self, events: list[RecordedEvent], seq: int) -> None:
        await unbroken(self._commit_now(events, seq))

    async def _commit_now(self, events: list[RecordedEvent], seq: int) -> None:
        """Rows and checkpoint in one transaction. A projection that remembers documents between batches must
        forget them when the transaction does not commit: they would hold writes that never happened. A batch that
        its projection prepared to change no row is passed over as events it does not handle are: no transaction,
        the checkpoint written at most every `skipped_checkpoint_every_s` (the team router: at 250 contacts a second
        it committed every contact on its own, and none of them changed anything)."""
        try:
            if events and isinstance(self.projection, Prepares):
                async with Reading(self._engine) as reading:
                    writes = await self.projection.prepare(reading, events)
                if not writes and self._checkpoint_may_wait():
                    return
            async with write_transaction(self._engine) as conn:
                if events:
                    await self.projection.apply(conn, events)
                await advance_checkpoint(conn, self.name, expected=self._stored_seq, seq=seq)
        except BaseException:
            self._forget()
            raise
        self._stored_seq, self._stored_at = seq, time.monotonic()

    def _checkpoint_may_wait(self) -> bool:
        """Whether a batch that writes nothing may be passed over without writing the checkpoint down."""
        return time.monotonic() - self._stored_at < self._skipped_every

    async def _stream_end(self) -> float:
        """The stream's last sequence, so that a runner with nothing to catch up says `live` at once rather than
        after its first empty wait; infinity (so: catching up) if the server cannot say just now."""
        try:
            return float((await self._js.stream_info(self._stream)).state.last_seq)
        except Exception:
            return float("inf")

    def _forget(self) -> None:
        if isinstance(self.projection, Remembers):
            self.projection.forget()

    def _handles(self, delivery: Delivery) -> bool:
        wanted = self.projection.handles
        return wanted is None or delivery.type is None or delivery.type in wanted

    async def _park(self, delivery: Delivery, reason: str, *, superseded: bool = False) -> None:
        await unbroken(self._park_now(delivery, reason, superseded))

    async def _park_now(self, delivery: Delivery, reason: str, superseded: bool) -> None:
        if not superseded:
            log.error("projection %s parked stream sequence %d: %s", self.name, delivery.seq, reason)
        event_type = _peek_type(delivery.data)
        async with write_transaction(self._engine) as conn:
            await conn.execute(dead_letters.insert(), [{"projection": self.name, "seq": delivery.seq,
                                                        "event_type": event_type, "reason": reason[:2000]}])
            await advance_checkpoint(conn, self.name, expected=self._stored_seq, seq=delivery.seq)
        self._stored_seq, self._stored_at = delivery.seq, time.monotonic()
        if superseded:
            self.status.superseded += 1
        else:
            self.status.parked += 1

    async def _advance(self, seq: int, count: int) -> None:
        self._advanced_at = time.monotonic()
        self.status.applied_seq = seq
        self.status.events_applied += count
        async with self._advanced:
            self._advanced.notify_all()
        if self._announce is not None:
            await self._announce(self.name, seq)

    async def wait_for(self, seq: int, within: float) -> bool:
        """Read-your-writes in one process: True once everything up to `seq` is applied."""
        if self.status.applied_seq >= seq:
            return True
        try:
            async with asyncio.timeout(within), self._advanced:  # not wait_for: see PullFeed.next_batch
                await self._advanced.wait_for(lambda: self.status.applied_seq >= seq)
        except TimeoutError:
            return False
        return True

    async def reset(self) -> None:
        """Drops this projection's rows and checkpoint and its consumer: the next run replays from the start."""
        async with write_transaction(self._engine) as conn:
            for table in reversed(list(self.projection.tables)):
                await conn.execute(delete(table))
            await conn.execute(delete(checkpoints).where(checkpoints.c.projection == self.name))
            await conn.execute(delete(dead_letters).where(dead_letters.c.projection == self.name))
        await self._feed.delete()
        self._forget()
        self.status = RunnerStatus()
        self._stored_seq = 0


def _peek_type(data: bytes) -> str:
    try:
        return str(orjson.loads(data).get("type", "?"))[:64]
    except Exception:
        return "?"

