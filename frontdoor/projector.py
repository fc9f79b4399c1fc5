"""Projections outside the API's event loop (issue 15 item 1), and how the API still hears from them.

`frontdoor serve` starts `frontdoor project` as a child process on the same settings and NATS and stops it with
itself: the API's loop then serves only requests (sharing it, the projections cost the tail latency of every
request). SQLite keeps one writer, the child. Two small NATS conversations keep what the API knew in-process:

- `projection.applied.<name>` (core NATS, payload the sequence in ASCII): every runner announces how far it has
  applied, so a `?min_seq=` read waiting in another process wakes at once instead of polling the checkpoint row
  (which, past events a projection ignores, is written only once a second);
- `projection.status` (request, many replies): each process answers with the status of the runners it leads, so
  `/health` still shows `waiting_for_database`, `failed` and parked counts wherever the projections run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from frontdoor.embedded_nats import _die_with_parent
from frontdoor.settings import Settings
from projections.runner import ProjectionRunner

log = logging.getLogger("frontdoor")
APPLIED_SUBJECT = "projection.applied"
STATUS_SUBJECT = "projection.status"
STOP_WITHIN_S = 15.0


def announcer(nc: NATS) -> Callable[[str, int], Awaitable[None]]:
    async def announce(name: str, seq: int) -> None:
        with contextlib.suppress(Exception):  # only a wake-up call: the checkpoint row stays the truth
            await nc.publish(f"{APPLIED_SUBJECT}.{name}", str(seq).encode())

    return announce


async def answer_status(nc: NATS, runners: dict[str, ProjectionRunner]) -> Subscription:
    async def reply(msg: Msg) -> None:
        body = {name: status_of(runner) for name, runner in runners.items() if runner.leading}
        if body and msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(orjson.dumps(body))

    return await nc.subscribe(STATUS_SUBJECT, cb=reply)


def status_of(runner: ProjectionRunner) -> dict[str, Any]:
    s = runner.status
    return {"state": s.state, "applied_seq": s.applied_seq, "parked": s.parked, "superseded": s.superseded,
            "error": s.error}


async def gather_status(nc: NATS, names: set[str], within: float) -> dict[str, dict[str, Any]]:
    """The statuses the lease holders report, gathered until every name is covered or `within` has passed."""
    found: dict[str, dict[str, Any]] = {}
    complete = asyncio.Event()

    async def collect(msg: Msg) -> None:
        with contextlib.suppress(ValueError):
            found.update(orjson.loads(msg.data))
        if names <= found.keys():
            complete.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(STATUS_SUBJECT, b"", reply=inbox)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await complete.wait()
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return found


class AppliedElsewhere:
    """How far projections in other processes have applied, as they announce it; wakes whoever waits."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._watched: set[str] = set()

    async def watch(self, nc: NATS, name: str) -> None:
        """Listens to `name`'s announcements from now on. Only to the projections somebody waits for: the team
        router announces every live event, and an API listening to all of them parsed each one on its loop (over
        400 a second under the city load of benchmark 4, for reads that wait only on the resident view)."""
        if name in self._watched:
            return
        self._watched.add(name)
        try:
            await nc.subscribe(f"{APPLIED_SUBJECT}.{name}", cb=self._heard)
        except Exception:
            self._watched.discard(name)
            raise

    async def _heard(self, msg: Msg) -> None:
        name = msg.subject.rsplit(".", 1)[-1]
        with contextlib.suppress(ValueError):
            seq = int(msg.data)
            if seq > self.seen.get(name, 0):
                self.seen[name] = seq
                async with self._changed:
                    self._changed.notify_all()

    async def wait(self, name: str, seq: int, within: float) -> bool:
        """True as soon as `name` is announced at or past `seq`; False after `within`."""
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: self.seen.get(name, 0) >= seq)
        except TimeoutError:
            return False
        return True


class ProjectorProcess:
    """`frontdoor project [ARGUMENTS]` as a child (of `serve`, or of a projector catching up): same environment,
    the parent's NATS, dies with the parent."""

    def __init__(self, settings: Settings, nats_url: str, arguments: Sequence[str] = ()) -> None:
        self._arguments = list(arguments)
        self._env = dict(os.environ) | {"FRONTDOOR_DATA_DIR": str(settings.resolved_data_dir()),
                                        "FRONTDOOR_DATABASE_URL": settings.resolved_database_url()}
        if nats_url:  # else the data directory's shared server, found as `serve` found it
            self._env["FRONTDOOR_NATS_URL"] = nats_url
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        # Its own session: a Ctrl-C in the terminal reaches `serve` only, which stops the child in order (after
        # the last request, before NATS). PR_SET_PDEATHSIG: a killed `serve` takes it along.
        self._process = subprocess.Popen([sys.executable, "-m", "frontdoor", "project", *self._arguments],
                                         env=self._env,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        log.info("projections run in a child process (pid %d)", self._process.pid)

    async def ended(self) -> int:
        """Waits for the child to exit by itself; its exit code."""
        process = self._process
        if process is None:
            return 0
        return await asyncio.to_thread(process.wait)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            log.warning("the projector (pid %d) did not stop within %g s; killing it", process.pid, STOP_WITHIN_S)
            process.kill()
            await asyncio.to_thread(process.wait)
