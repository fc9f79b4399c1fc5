"""Runs `frontdoor project` (with the environment's FRONTDOOR_* settings) until every projection has caught up with
its stream, then stops it and prints how long that took: the setup step of bench/mixed_load.py on a big city.

    python -m bench.catch_up [--within SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from frontdoor.embedded_nats import free_port


def caught_up(port: int) -> tuple[bool, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            report = json.loads(response.read())
    except OSError:
        return False, {}
    behind = {name: p.get("behind") for name, p in report.get("projections", {}).items()}
    states = {name: p.get("state") for name, p in report.get("projections", {}).items()}
    done = bool(behind) and all(b in (0, None) for b in behind.values()) and "catching_up" not in states.values()
    return done, {"behind": behind, "states": states}


def main() -> None:
    parser = argparse.ArgumentParser(description="project until caught up")
    parser.add_argument("--within", type=float, default=3600)
    args = parser.parse_args()
    port = free_port()
    frontdoor = str(Path(sys.executable).parent / "frontdoor")
    started = time.monotonic()
    worker = subprocess.Popen([frontdoor, "project", "--metrics-port", str(port)], env=os.environ)
    try:
        last = 0.0
        while time.monotonic() - started < args.within:
            done, report = caught_up(port)
            if done:
                print(json.dumps({"caught_up_s": round(time.monotonic() - started, 1), **report}))
                return
            if time.monotonic() - last > 30:
                print(json.dumps({"at_s": round(time.monotonic() - started), **report}), flush=True)
                last = time.monotonic()
            time.sleep(1)
        raise SystemExit(f"not caught up within {args.within:g} s")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)


if __name__ == "__main__":
    main()
