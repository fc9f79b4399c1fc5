"""Liveness plus what an operator needs first: NATS, the database, and each projection's position."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdoor.api.writes import services_of
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
    applied: dict[str, int] = {}
    for name, stored in positions.items():
        runner = services.runners.get(name)
        # The lease holder knows best: past events it ignores, its stored checkpoint is written lazily.
        applied[name] = max(stored, runner.status.applied_seq) if runner is not None and runner.leading else stored
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
        if runner is not None:
            entry |= {"state": runner.status.state, "parked": runner.status.parked, "error": runner.status.error}
            # Stopped on a poison event, or waiting out its database or NATS: the service is not "ok".
            if runner.status.state == "failed" or runner.status.state.startswith("waiting_for_"):
                report["status"] = "degraded"
        projections[name] = entry
    report["projections"] = projections
    healthy = report["nats"]["ok"] and report["database"]["ok"]
    if not healthy:
        report["status"] = "unavailable"
    return JSONResponse(report, status_code=200 if healthy else 503)
