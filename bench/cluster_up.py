"""Starts the loopback three-node cluster of the tests (tests/cluster.py) under DIR, prints its URL (every node,
comma-separated) and keeps it up until SIGTERM or SIGINT: for benchmarks and trying things by hand.

    python -m bench.cluster_up DIR
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from tests.cluster import LoopbackCluster


def main() -> None:
    cluster = LoopbackCluster(Path(sys.argv[1])).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(cluster.url, flush=True)
    try:
        stop.wait()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
