"""An ASGI middleware around every HTTP request: the correlation id (the client's X-Correlation-Id or a new one,
returned in the response header, put in `request.state.correlation_id` and the logging context), the latency
histogram by route template and status, and one structured log line.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: that one runs the endpoint in another task (and so
another context), and costs a stream copy per response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdoor import correlation, metrics

log = logging.getLogger("frontdoor.http")
HEADER = b"x-correlation-id"
UNMATCHED = "unmatched"  # a path no route knows: never label by the raw path, ids would become series


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), None)
        cid = correlation.accept(offered)
        scope.setdefault("state", {})["correlation_id"] = cid
        token = correlation.current.set(cid)
        status = 500  # what the server answers when the app raises before starting a response
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, cid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            metrics.HTTP_REQUESTS.labels(route, scope["method"], str(status)).observe(elapsed)
            log.info("%s %s %d %.1fms", scope["method"], route, status, elapsed * 1000,
                     extra={"route": route, "method": scope["method"], "status": status,
                            "duration_ms": round(elapsed * 1000, 2)})
            correlation.current.reset(token)


def route_template(scope: MutableMapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED
