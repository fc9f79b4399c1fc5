"""The projector's own small HTTP endpoint (`frontdoor project --metrics-port`): `/metrics` and `/health`, the same
routes as the API's, so Prometheus and the container health check treat every process alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from frontdoor.api import health, metrics
from frontdoor.api.problems import install_problem_handlers
from frontdoor.services import Services

log = logging.getLogger("frontdoor")


def create_projector_app(services: Services) -> FastAPI:
    app = FastAPI(title="frontdoor projector", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


def start_operations_endpoint(services: Services, host: str, port: int) -> asyncio.Task[None]:
    """Serves /metrics and /health in this event loop until the returned task is cancelled."""
    server = _WithoutSignals(uvicorn.Config(create_projector_app(services), host=host, port=port,
                                            log_level="warning", lifespan="off", access_log=False, log_config=None))
    log.info("projector metrics and health on http://%s:%d/metrics", host, port)
    return asyncio.create_task(server.serve(), name="projector-http")


class _WithoutSignals(uvicorn.Server):
    """The worker owns SIGINT/SIGTERM (it stops the projections in order); uvicorn would take them over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
