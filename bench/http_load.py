"""A small closed-loop HTTP load client (asyncio), used by the HTTP benchmarks when `wrk` is not installed.

Run as its own process: `python -m bench.http_load --base URL --paths FILE --token T --connections N --duration S
[--client aiohttp|httpx]`. The client shares this 2-core machine with the server it measures, so its own CPU per
request is taken from the server: aiohttp (its C HTTP parser) costs a fraction of httpx's (pure Python over h11),
which the runs up to 2026-11-30 used; `--client httpx` repeats them. Each of N connections posts the contact body
round-robin over its share of the paths (its own path when there are N), one request at a time, until the time is
up. Prints one JSON line: requests, errors, rps, p50_ms, p99_ms."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import aiohttp
import httpx

from bench.common import percentile
from frontdoor.heap import settle_heap

CONTACT = {"channel": "phone", "caller": {"relationship": "self"}, "needs": ["housing"], "urgency": "routine",
           "safeguarding": False, "summary": "bench", "outcome": "advice"}


async def load(base: str, paths: list[str], token: str, connections: int, duration: float,
               client: str = "aiohttp") -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    body = json.dumps(CONTACT).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def with_aiohttp(mine: list[str], deadline: float) -> None:
        nonlocal errors
        # One connection each, kept alive, as wrk's connections are.
        async with aiohttp.ClientSession(base, headers=headers, connector=aiohttp.TCPConnector(limit=1),
                                         timeout=aiohttp.ClientTimeout(total=10.0)) as session:
            sent = 0
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    async with session.post(mine[sent % len(mine)], data=body) as response:
                        await response.read()
                        if response.status != 201:
                            errors += 1
                    sent += 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                latencies.append(time.perf_counter() - began)

    async def with_httpx(mine: list[str], deadline: float) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10.0) as client:
            sent = 0
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    response = await client.post(mine[sent % len(mine)], content=body)
                    sent += 1
                    if response.status_code != 201:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    deadline = began + duration
    # Connection i takes paths i, i + N, i + 2N…: its own resident when there are N paths, its share of the city
    # when there are more.
    connection = with_aiohttp if client == "aiohttp" else with_httpx
    await asyncio.gather(*(connection(paths[i::connections] or [paths[i % len(paths)]], deadline)
                           for i in range(connections)))
    elapsed = time.perf_counter() - began
    ms = [x * 1000 for x in latencies] or [0.0]
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--paths", required=True, type=Path)
    parser.add_argument("--token", required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp")
    args = parser.parse_args()
    if not args.base.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("this load client only talks to this machine (127.0.0.1)")
    paths = args.paths.read_text().split()
    # As `frontdoor serve` settles its own: the client's full collections (70-110 ms measured in a client that has
    # imported the project) were otherwise counted as the server's latency.
    settle_heap()
    result = asyncio.run(load(args.base, paths, args.token, args.connections, min(args.duration, 120.0),
                              args.client))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
