"""How the API is served: uvicorn on uvloop, speaking HTTP through httptools (uvicorn's "standard" parts).

The defaults were the asyncio loop and h11, uvicorn's pure-Python HTTP parser: most of a simple request's cost
was the server's own. The benchmarks' bare baseline is served the same way, so their ratio stays fair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")
LOOP = "uvloop"
HTTP = "httptools"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop. (uvicorn's own `loop=` applies only when uvicorn makes the loop itself; the
    service makes it, as it starts NATS and the database before serving.)"""
    try:
        import uvloop
    except ImportError:  # a platform without uvloop (Windows): the standard loop still works
        return asyncio.run(main)
    return uvloop.run(main)


def config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    # log_config=None: uvicorn logs through the service's own JSON/text logging (issue 14), not its own setup.
    # access_log=False: our middleware logs every request once, with its route and correlation id; uvicorn's
    # log_level set its access logger back to INFO, so each request was logged twice.
    return uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off", loop=LOOP, http=HTTP,
                          log_config=None, access_log=False)
