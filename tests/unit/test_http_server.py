"""`serve` (and the benchmarks' bare baseline) run on uvloop and parse HTTP with httptools."""

from __future__ import annotations

import asyncio

import uvicorn

from frontdoor import http_server


async def _loop_kind() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_service_runs_on_uvloop() -> None:
    assert http_server.run(_loop_kind()).startswith("uvloop")


def test_the_server_speaks_http_through_httptools() -> None:
    config = http_server.config(lambda *_: None, "127.0.0.1", 8000)  # type: ignore[arg-type]
    assert config.http == "httptools"  # asked for by name: a missing httptools fails loudly, not falls back to h11
    config.load()
    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
    assert isinstance(config, uvicorn.Config)
