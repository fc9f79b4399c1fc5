"""Leader failover: the time from SIGKILLing the CARE stream's leader to the first successful write, under 20
HTTP clients writing contacts (Idempotency-Key, retried), ten kills, median and worst.

    python -m bench.failover [--runs 10] [--clients 20]

One loopback three-node cluster (tests/cluster.py), one `frontdoor serve` on it at three replicas; between kills
the killed node is restarted and the cluster waits until every replica of CARE is current again. The figure is
"first success of a request that started after the kill", measured by the clients themselves."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import nats

from events.subjects import CARE_STREAM
from frontdoor.api.auth import issue_token
from tests.cluster import LoopbackCluster
from tests.drills.processes import api, frontdoor_env
from tests.drills.workload import Writes, write_contacts

SECRET = "failover-bench-secret-0123456789abcdef"


async def replicas_current(cluster: LoopbackCluster, within: float = 60.0) -> None:
    nc = await nats.connect(servers=cluster.urls)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                info = await js.stream_info(CARE_STREAM)
                peers = info.cluster.replicas or [] if info.cluster else []
                if info.cluster and info.cluster.leader and len(peers) == 2 and all(p.current for p in peers):
                    return
            except Exception:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("CARE replicas did not become current")
    finally:
        await nc.close()


async def run(runs: int, clients: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="frontdoor-failover-"))
    cluster = LoopbackCluster(root / "cluster").start()
    env = frontdoor_env(nats_url=cluster.url, database_url=f"sqlite+aiosqlite:///{root / 'read.db'}",
                        data_dir=root / "data", secret=SECRET)
    server = api("api", env, root).start()
    try:
        await asyncio.to_thread(server.wait_healthy)
        token = issue_token(SECRET, sub="bench", role="call_handler")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            residents = []
            for n in range(clients):
                response = await http.post("/residents", json={"given_name": "Fay", "family_name": f"Over{n}",
                                                                "date_of_birth": "1950-01-01", "postcode": "SO14 7LY"})
                response.raise_for_status()
                residents.append(response.json()["resident_id"])
        writes, stop = Writes(), asyncio.Event()
        load = asyncio.create_task(write_contacts(server.base_url, token, residents, clients=clients, stop=stop,
                                                  writes=writes, give_up_after_s=120))
        kills: list[tuple[str, float]] = []
        for _ in range(runs):
            await replicas_current(cluster)
            await asyncio.sleep(2.0)  # steady writes before the kill
            leader = await cluster.async_stream_leader(CARE_STREAM)
            kills.append((leader, time.monotonic()))
            await asyncio.to_thread(cluster.kill, leader)
            await asyncio.sleep(8.0)
            await asyncio.to_thread(cluster.restart, leader)
            await asyncio.to_thread(cluster.wait_healthy, 60)
        stop.set()
        await asyncio.wait_for(load, 180)
    finally:
        server.stop()
        cluster.stop()
    recoveries = [writes.first_success_after(at) for _, at in kills]
    times = [r for r in recoveries if r is not None]
    return {"runs": runs, "clients": clients, "killed": [k for k, _ in kills],
            "seconds_to_first_success": [round(t, 2) for t in times],
            "never_recovered": sum(1 for r in recoveries if r is None),
            "median_s": round(statistics.median(times), 2) if times else None,
            "worst_s": round(max(times), 2) if times else None,
            "writes_accepted": len(writes.accepted), "client_timeouts": writes.timeouts,
            "failed_attempts": dict(writes.failures())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.runs, args.clients)), indent=1))


if __name__ == "__main__":
    main()
