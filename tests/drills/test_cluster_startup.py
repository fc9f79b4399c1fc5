"""Stream and bucket creation waits for JetStream instead of failing: with one node of three up there is no meta
leader; creation waits, bounded, says so in the log, and goes through once a second node joins."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import nats
import pytest

from events.streams import JetStreamNotReady, ensure_streams_when_ready
from events.subjects import CARE_STREAM, IDEMPOTENCY_BUCKET, NHS_NUMBERS_BUCKET
from frontdoor.services import Services
from frontdoor.web import create_web_app
from tests.cluster import LoopbackCluster
from tests.integration.conftest import RESIDENT, auth


async def test_creation_waits_for_a_meta_leader_then_makes_everything_at_three_replicas(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cluster = LoopbackCluster(tmp_path / "cluster")
    first, *others = cluster.nodes
    cluster._spawn(first)
    try:
        await asyncio.to_thread(_wait_listening, cluster)
        nc = await nats.connect(servers=[first.url], max_reconnect_attempts=-1)
        js = nc.jetstream(timeout=2)
        with pytest.raises(JetStreamNotReady, match="not ready"):
            await ensure_streams_when_ready(js, replicas=3, within=1.0)  # alone: no quorum, so no meta leader

        caplog.set_level(logging.INFO, logger="frontdoor.streams")
        waiting = asyncio.create_task(ensure_streams_when_ready(js, replicas=3, within=60))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        for node in others:
            cluster._spawn(node)
        await asyncio.wait_for(waiting, 60)
        assert any("waiting for JetStream" in r.getMessage() for r in caplog.records)
        assert (await js.stream_info(CARE_STREAM)).config.num_replicas == 3
        assert (await js.stream_info(f"KV_{NHS_NUMBERS_BUCKET}")).config.num_replicas == 3
        await nc.close()
    finally:
        cluster.stop()


def _wait_listening(cluster: LoopbackCluster) -> None:
    import socket
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", cluster.nodes[0].port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the first node never listened")


async def test_the_app_on_the_cluster_writes_to_streams_and_buckets_replicated_three_times(
        cluster_services: Services) -> None:
    js = cluster_services.js
    for stream in (CARE_STREAM, f"KV_{NHS_NUMBERS_BUCKET}", f"KV_{IDEMPOTENCY_BUCKET}"):
        info = await js.stream_info(stream)
        assert info.config.num_replicas == 3 and info.cluster is not None and len(info.cluster.replicas or []) == 2
    transport = httpx.ASGITransport(app=create_web_app(cluster_services))
    async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor",
                                 headers=auth("call_handler")) as http:
        made = await http.post("/residents", json=RESIDENT)
        assert made.status_code == 201, made.text
        seen = await http.get(f"/residents/{made.json()['resident_id']}", params={"min_seq": made.json()["seq"]})
        assert seen.status_code == 200
