"""A diagnostic server for benchmark 4: the real API exactly as `frontdoor serve` builds it, but without the
projections running in the same process, so the cost of the API alone can be told from the cost of the
projections sharing its event loop. Reads the same FRONTDOOR_* settings. Stops on SIGINT or SIGTERM."""

from __future__ import annotations

import argparse

import uvicorn

from frontdoor import http_server
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.settings import Settings
from frontdoor.web import create_web_app


async def serve(port: int) -> None:
    services = await start_services(Settings(), run_projections=False)
    try:
        await uvicorn.Server(http_server.config(create_web_app(services), "127.0.0.1", port)).serve()
    finally:
        await stop_services(services)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    http_server.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
