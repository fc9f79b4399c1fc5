"""Liveness plus what an operator needs first: NATS, the database, and each projection's position."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdoor.api.writes import services_of
from frontdoor.projector import gather_status, status_of
from projections.database import probe
from projections.queries import checkpoint

router = APIRouter(tags=["health"])
PROJECTIONS = ("resident_view", "caseload", "flags", "duplicate_detector", "team_router", "audit_log")
ON_CARE = set(PROJECTIONS) - {"audit_log"}  # audit_log follows the AUDIT stream
# A database or NATS that cannot answer in this long is reported as unavailable, not waited for.
PROBE_S = 1.5


@router.get("/health", summary="Liveness, NATS and database reachability, projection positions")
async def health(request: Request) -> JSONResponse:
    services = services_of(request)
    report: dict[str, Any] = {"status": "ok"}
    try:
        await probe(services.engine, PROBE_S)  # a locked SQLite file is not "ok" (it was, for 30 s)
        async with services.engine.connect() as conn:
            positions = {name: await checkpoint(conn, name) for name in PROJECTIONS}
        report["database"] = {"ok": True, "dialect": services.engine.dialect.name}
    except Exception as exc:
        report["database"], positions = {"ok": False, "error": str(exc)[:200] or type(exc).__name__}, {}
    # The lease holders' own word: this process's runners, or else what projectors elsewhere (the child
    # `serve` starts) answer. A projection nobody answers for is not being projected by anyone awake.
    statuses = {name: status_of(r) for name, r in services.runners.items() if r.leading}
    if not services.runners:
        with contextlib.suppress(Exception):
            statuses = await gather_status(services.nc, set(positions), PROBE_S / 3)
    applied: dict[str, int] = {}
    for name, stored in positions.items():
        # The lease holder knows best: past events it ignores, its stored checkpoint is written lazily.
        applied[name] = max(stored, int(statuses[name]["applied_seq"])) if name in statuses else stored
    # The stream's end is asked for after every position was taken: the stream only grows, so `behind` is
    # never below zero (asked first, a position taken later could be past it). Clamped all the same.
    try:
        async with asyncio.timeout(PROBE_S):
            last = await services.store.last_seq()
        report["nats"] = {"ok": services.nc.is_connected, "stream_last_seq": last}
    except Exception as exc:
        report["nats"], last = {"ok": False, "error": str(exc)[:200] or type(exc).__name__}, None
    projections: dict[str, Any] = {}
    for name, seq in applied.items():
        runner = services.runners.get(name)
        behind = max(0, last - seq) if last is not None and name in ON_CARE else None
        entry: dict[str, Any] = {"applied_seq": seq, "behind": behind}
        status = statuses.get(name) or (status_of(runner) if runner is not None else None)
        if status is not None:
            entry |= {"state": status["state"], "parked": status["parked"], "error": status["error"]}
            # Stopped on a poison event, or waiting out its database or NATS: the service is not "ok".
            if status["state"] == "failed" or str(status["state"]).startswith("waiting_for_"):
                report["status"] = "degraded"
        else:
            entry |= {"state": "no_projector", "parked": None, "error": "no projector answered for it"}
            report["status"] = "degraded"
        projections[name] = entry
    report["projections"] = projections
    healthy = report["nats"]["ok"] and report["database"]["ok"]
    if not healthy:
        report["status"] = "unavailable"
    return JSONResponse(report, status_code=200 if healthy else 503)
