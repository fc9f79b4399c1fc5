"""Liveness plus what an operator needs first: NATS, the database, and each projection's position."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from frontdoor.api.writes import services_of
from projections.queries import checkpoint

router = APIRouter(tags=["health"])
PROJECTIONS = ("resident_view", "caseload", "flags", "duplicate_detector", "team_router", "audit_log")
ON_CARE = set(PROJECTIONS) - {"audit_log"}  # audit_log follows the AUDIT stream


@router.get("/health", summary="Liveness, NATS and database reachability, projection positions")
async def health(request: Request) -> JSONResponse:
    services = services_of(request)
    report: dict[str, Any] = {"status": "ok"}
    try:
        last = await asyncio.wait_for(services.store.last_seq(), 2)
        report["nats"] = {"ok": services.nc.is_connected, "stream_last_seq": last}
    except Exception as exc:
        report["nats"], last = {"ok": False, "error": str(exc)[:200]}, None
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            positions = {name: await checkpoint(conn, name) for name in PROJECTIONS}
        report["database"] = {"ok": True, "dialect": services.engine.dialect.name}
    except Exception as exc:
        report["database"], positions = {"ok": False, "error": str(exc)[:200]}, {}
    projections: dict[str, Any] = {}
    for name, stored in positions.items():
        runner = services.runners.get(name)
        # The lease holder knows best: past events it ignores, its stored checkpoint is written lazily.
        applied = max(stored, runner.status.applied_seq) if runner is not None and runner.leading else stored
        behind = (last - applied) if last is not None and name in ON_CARE else None
        entry: dict[str, Any] = {"applied_seq": applied, "behind": behind}
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
