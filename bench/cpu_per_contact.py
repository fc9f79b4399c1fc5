"""Where the CPU of one recorded contact goes, process by process (a diagnostic for issue 15's record-a-contact
goal, not a benchmark with a goal): under the city shape's load (16 connections over 2,000 residents, the load
client of `bench.http_load`), the CPU seconds of each process per request, from /proc (Linux).

    python -m bench.cpu_per_contact serve     # `frontdoor serve`: the API and its projector child process
    python -m bench.cpu_per_contact split     # the API alone, and each projection in a process of its own
    python -m bench.cpu_per_contact bare      # the bare FastAPI app of benchmark 4
    python -m bench.cpu_per_contact serve --env FRONTDOOR_PROJECTION_GATHER_S=0.2   # a setting tried

`split` shows what each projection costs on its own. Each of its processes reads and decodes every event for
itself, so the cost of receiving an event is counted once per process there: the cheapest projection (one that
ignores contacts) shows about what that is. The two cores are shared by all of them and the load client, so the
requests a second are lower than in `serve`; the CPU per request is the figure to read. A warm-up load runs first
(`--warm-up`), long enough for the burst of "tell my story again" flags (every resident's third call) to pass.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import http_contact
from bench.common import temp_dir
from frontdoor import http_server
from frontdoor.api.auth import issue_token
from frontdoor.bootstrap import PROJECTION_NAMES
from frontdoor.embedded_nats import EmbeddedNats, free_port

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User and system time of one process (not its children), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime and stime, fields 14 and 15 of stat(5)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with Path(task, "children").open() as listed:
            found += [int(child) for child in listed.read().split()]
    return found


@dataclass(frozen=True, slots=True)
class Measured:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float]  # process -> CPU seconds during the measured load


def measure(mode: str, residents: int, duration: float, warm_up: float, env_extra: dict[str, str]) -> Measured:
    token = issue_token(http_contact.SECRET, sub="bench", role="call_handler")
    with temp_dir("cpu") as work:
        nats = EmbeddedNats(work / "nats").start()
        started: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            port = free_port()
            env = os.environ | {"FRONTDOOR_NATS_URL": nats.url, "FRONTDOOR_DATA_DIR": str(work / "data"),
                                "FRONTDOOR_JWT_SECRET": http_contact.SECRET} | env_extra
            env.pop("FRONTDOOR_DATABASE_URL", None)
            frontdoor = [sys.executable, "-c", "from frontdoor.cli import main; main()"]
            if mode == "serve":
                api = [*frontdoor, "serve", "--host", "127.0.0.1", "--port", str(port)]
            elif mode == "split":
                api = [sys.executable, "-m", "bench.serve_api_only", "--port", str(port)]
            else:
                api = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1", "--port",
                       str(port), "--workers", "1", "--loop", http_server.LOOP, "--http", http_server.HTTP]
            started.append(("api" if mode != "bare" else "bare app", http_contact.start(api, env, work / "api.log")))
            if mode == "split":
                for name in PROJECTION_NAMES:
                    started.append((name, http_contact.start([*frontdoor, "project", "--only", name], env,
                                                             work / f"{name}.log")))
            base = f"http://127.0.0.1:{port}"
            http_contact.wait_healthy(base, started[0][1], work / "api.log")
            paths = [f"/residents/bare-{i}/contacts" for i in range(16)] if mode == "bare" else \
                http_contact.register_residents(base, token, residents, different=True)
            if warm_up > 0:
                http_contact.run_python_client(base, paths, token, 16, warm_up, work)
            processes = {name: process.pid for name, process in started}
            if mode == "serve":
                processes |= {f"projector (pid {child})": child for child in children(started[0][1].pid)}
            server_pid = nats.process_id
            if server_pid is not None:
                processes["nats-server"] = server_pid
            before = {name: cpu_seconds(pid) for name, pid in processes.items()}
            paths_file = work / "paths.txt"
            paths_file.write_text("\n".join(paths))
            client = subprocess.Popen(
                [sys.executable, "-m", "bench.http_load", "--base", base, "--paths", str(paths_file), "--token",
                 token, "--connections", "16", "--duration", str(duration)], cwd=ROOT, stdout=subprocess.PIPE,
                text=True)
            client_cpu = 0.0
            while client.poll() is None:  # the client's own time, read until it exits
                try:
                    client_cpu = cpu_seconds(client.pid)
                except (FileNotFoundError, ProcessLookupError, IndexError):
                    break
                time.sleep(0.1)
            out, _ = client.communicate()
            after = {name: cpu_seconds(pid) for name, pid in processes.items()}
            result = json.loads(out.strip().splitlines()[-1])
            cpu = {name: after[name] - before[name] for name in processes} | {"load client": client_cpu}
            return Measured(int(result["requests"]), result["rps"], result["p50_ms"], result["p99_ms"], cpu)
        finally:
            for _, process in reversed(started):
                http_contact.stop(process)
            nats.stop()


def report(mode: str, measured: Measured, duration: float) -> str:
    lines = [f"{mode}: {measured.rps:,.0f} requests/s, p50 {measured.p50_ms:.1f} ms, p99 {measured.p99_ms:.1f} ms, "
             f"{measured.requests:,} requests in {duration:g} s",
             f"{'process':<24} {'CPU s':>7} {'ms/request':>11} {'of a core':>10}"]
    for name, seconds in measured.cpu.items():
        per = 1000 * seconds / max(measured.requests, 1)
        lines.append(f"{name:<24} {seconds:>7.2f} {per:>11.3f} {seconds / duration:>10.0%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["serve", "split", "bare"])
    parser.add_argument("--residents", type=int, default=http_contact.CITY_RESIDENTS,
                        help="residents the connections post over (default: the city shape's 2,000)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load (default 10)")
    parser.add_argument("--warm-up", type=float, default=10.0, help="seconds of load first (default 10)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the servers (repeatable)")
    args = parser.parse_args()
    extra = {}
    for item in args.env:
        name, equals, value = item.partition("=")
        if not equals:
            parser.error(f"--env {item}: expected NAME=VALUE")
        extra[name] = value
    print(report(args.mode, measure(args.mode, args.residents, args.duration, args.warm_up, extra), args.duration))


if __name__ == "__main__":
    main()
