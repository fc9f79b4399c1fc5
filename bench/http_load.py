"""A small closed-loop HTTP load client (httpx, asyncio), used by benchmark 4 when `wrk` is not installed.

Run as its own process: `python -m bench.http_load --base URL --paths FILE --token T --connections N
--duration S`. Each of N connections posts the contact body round-robin over its share of the paths (its own
path when there are N), one request at a time, until the time is up. Prints one JSON line: requests, errors,
rps, p50_ms, p99_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx

from bench.common import percentile

CONTACT = {"channel": "phone", "caller": {"relationship": "self"}, "needs": ["housing"], "urgency": "routine",
           "safeguarding": False, "summary": "bench", "outcome": "advice"}


async def load(base: str, paths: list[str], token: str, connections: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    body = json.dumps(CONTACT).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def connection(mine: list[str], deadline: float) -> None:
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
    args = parser.parse_args()
    if not args.base.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("this load client only talks to this machine (127.0.0.1)")
    paths = args.paths.read_text().split()
    result = asyncio.run(load(args.base, paths, args.token, args.connections, min(args.duration, 120.0)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
