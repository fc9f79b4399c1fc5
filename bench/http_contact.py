"""Benchmark 4: POST /residents/{id}/contacts on the real app (`frontdoor serve`: the API, one uvicorn worker,
and the projector child process it starts; our own nats-server) against a bare FastAPI endpoint with the same body model
(`bench.bare_app`, uvicorn, one worker), under the same load client in its own process: `wrk` when installed
(one thread, N connections, round-robin over N residents), else `bench.http_load` (aiohttp; `BENCH_HTTP_CLIENT=httpx`
repeats the runs made before 2026-11-30's night with httpx, whose own CPU per request took a core's quarter here).
Each client connection has its own resident, registered first through POST /residents. For diagnosis, the same
API without the projections in its process (`bench.serve_api_only`) is measured too.

A second shape, "city": the same 16 connections post round-robin over 2,000 residents (different people), as a
front door's calls spread over a city; this is the shape issue 15 names for its verdict. During it, every 2 s a
probe registers a resident, refers them to two teams for one need and times the parallel-referral flag's arrival
over GET /flags (the issue's "while the flag of a parallel referral still appears within 1 s").

In the first shape each of 16 residents gathers over a thousand calls about one need within the run, and the
projections' cost per event grows with a resident's history (the joined-up document is rewritten whole; the tell-my-
story rule sorts the resident's calls about the need).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Row, city_person, info_row, percentile, ratio_row, temp_dir
from bench.http_load import CONTACT
from frontdoor import http_server
from frontdoor.api.auth import issue_token
from frontdoor.embedded_nats import EmbeddedNats, free_port

NAME = "http_contact"
GOAL = 0.5
P99_GOAL_MS = 25.0
SECRET = "bench-secret-0123456789abcdef0123456789"
RESIDENT = {"given_name": "A", "family_name": "B", "date_of_birth": "1940-01-01", "postcode": "SO14 7LY"}
ROOT = Path(__file__).resolve().parent.parent
# The Python load client when wrk is not installed (bench.http_load).
PYTHON_CLIENT = os.environ.get("BENCH_HTTP_CLIENT", "aiohttp")


@dataclass(frozen=True, slots=True)
class Size:
    connections: int
    duration_s: float
    warmup_s: float


FULL = Size(connections=16, duration_s=20.0, warmup_s=3.0)
QUICK = Size(connections=16, duration_s=5.0, warmup_s=1.0)
CITY_RESIDENTS = 2_000
FLAG_GOAL_S = 1.0  # the flag of a parallel referral still appears within 1 s under the city shape's load
PROBE_EVERY_S = 2.0
LETTERS = str.maketrans("0123456789", "bcdfghjklm")


@dataclass(frozen=True, slots=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    client: str


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {base} not healthy within {within}s: {log.read_text()[-2000:]}")


def register_residents(base: str, token: str, count: int, *, different: bool = False) -> list[str]:
    """`count` residents through POST /residents: the same details each time, or (`different`) different
    people, spread over names, birth dates and postcodes so that none looks like another."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10.0) as client:
        paths = []
        for i in range(count):
            born, postcode = city_person(i)
            person = RESIDENT if not different else {
                "given_name": "Resident", "family_name": f"{i:05d}".translate(LETTERS).title(),
                "date_of_birth": born.isoformat(), "postcode": postcode}
            response = client.post("/residents", json=person)
            response.raise_for_status()
            paths.append(f"/residents/{response.json()['resident_id']}/contacts")
        return paths


WRK_SCRIPT = """
local paths = {%s}
local i = 0
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i %% #paths + 1
  return wrk.format(nil, paths[i])
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, base: str, paths: list[str], token: str, connections: int, duration: float,
            workdir: Path) -> Load:
    script = workdir / "contacts.lua"
    script.write_text(WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), json.dumps(CONTACT), token))
    args = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s", "--latency",
            "-s", str(script), base]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not (p50 and p99 and rps and total):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(x) for x in socket.groups())
    return Load(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), int(total.group(1)), errors, "wrk")


def run_python_client(base: str, paths: list[str], token: str, connections: int, duration: float,
                      workdir: Path) -> Load:
    paths_file = workdir / "paths.txt"
    paths_file.write_text("\n".join(paths))
    args = [sys.executable, "-m", "bench.http_load", "--base", base, "--paths", str(paths_file), "--token", token,
            "--connections", str(connections), "--duration", str(duration), "--client", PYTHON_CLIENT]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return Load(result["rps"], result["p50_ms"], result["p99_ms"], result["requests"], result["errors"],
                PYTHON_CLIENT)


def load(base: str, paths: list[str], token: str, size: Size, workdir: Path, *, probe_flags: bool = False
         ) -> tuple[Load, list[float]]:
    """The load (after a warm-up); with `probe_flags`, the seconds each parallel-referral probe made during it
    took to show its flag."""
    wrk = shutil.which("wrk")

    def once(duration: float) -> Load:
        if wrk:
            return run_wrk(wrk, base, paths, token, size.connections, duration, workdir)
        return run_python_client(base, paths, token, size.connections, duration, workdir)

    once(size.warmup_s)
    if not probe_flags:
        return once(size.duration_s), []
    with ThreadPoolExecutor(max_workers=1) as pool:
        probes = pool.submit(flag_probes, base, token, size.duration_s)
        measured = once(size.duration_s)
        return measured, probes.result()


def flag_probes(base: str, token: str, duration: float) -> list[float]:
    """While the load runs: now and then a new resident referred to two teams for one need (a parallel referral),
    and the seconds from the second referral's answer until GET /flags lists the flag (bench.flag_latency's
    probe). A probe that never sees its flag counts as infinity."""
    from bench.flag_latency import _probe  # that module imports this one

    async def probing() -> list[float]:
        seconds: list[float] = []
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30.0) as client:
            deadline = time.monotonic() + duration
            await asyncio.sleep(PROBE_EVERY_S)
            while time.monotonic() < deadline - PROBE_EVERY_S:
                seconds.append((await _probe(client))[1])
                await asyncio.sleep(PROBE_EVERY_S)
        return seconds

    return asyncio.run(probing())


def measure_frontdoor(size: Size, workdir: Path, token: str, *, projections: bool = True, residents: int = 0
                      ) -> tuple[Load, list[float]]:
    """`frontdoor serve`; with `projections=False`, `bench.serve_api_only` (the same API, no projections). With
    `residents`, the connections post round-robin over that many different residents (the city shape)."""
    label = ("frontdoor" if projections else "api-only") + (f"-city-{residents}" if residents else "")
    nats_server = EmbeddedNats(workdir / f"nats-{label}").start()
    try:
        port = free_port()
        env = os.environ | {"FRONTDOOR_NATS_URL": nats_server.url, "FRONTDOOR_DATA_DIR": str(workdir / label),
                            "FRONTDOOR_JWT_SECRET": SECRET}
        env.pop("FRONTDOOR_DATABASE_URL", None)
        log = workdir / f"{label}.log"
        script = Path(sys.executable).parent / "frontdoor"
        command = [str(script)] if script.exists() else [sys.executable, "-c", "from frontdoor.cli import main; main()"]
        command = [*command, "serve", "--host", "127.0.0.1"] if projections else [
            sys.executable, "-m", "bench.serve_api_only"]
        server = start([*command, "--port", str(port)], env, log)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, server, log)
            paths = register_residents(base, token, residents or size.connections, different=bool(residents))
            return load(base, paths, token, size, workdir, probe_flags=projections and bool(residents))
        finally:
            stop(server)
    finally:
        nats_server.stop()


def measure_bare(size: Size, workdir: Path, token: str) -> Load:
    port = free_port()
    log = workdir / "bare.log"
    server = start([sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1", "--port", str(port),
                    "--workers", "1", "--log-level", "info", "--loop", http_server.LOOP, "--http", http_server.HTTP],
                   dict(os.environ), log)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server, log)
        paths = [f"/residents/bare-{i}/contacts" for i in range(size.connections)]
        return load(base, paths, token, size, workdir)[0]
    finally:
        stop(server)


def measure(size: Size) -> tuple[Load, Load, Load, Load, list[float]]:
    token = issue_token(SECRET, sub="bench", role="call_handler")
    with temp_dir(NAME) as workdir:
        ours, _ = measure_frontdoor(size, workdir, token)
        bare = measure_bare(size, workdir, token)
        api_only, _ = measure_frontdoor(size, workdir, token, projections=False)
        city, flags = measure_frontdoor(size, workdir, token, residents=CITY_RESIDENTS)
    return ours, bare, api_only, city, flags


async def run(quick: bool = False) -> list[Row]:
    size = QUICK if quick else FULL
    ours, bare, api_only, city, flags = await asyncio.to_thread(measure, size)
    print(f"[{NAME}] {ours.client}, {size.connections} connections, {size.duration_s:g}s: frontdoor {ours.rps:.0f}/s "
          f"({ours.requests} requests, {ours.errors} errors), bare {bare.rps:.0f}/s ({bare.errors} errors)")
    if ours.errors or bare.errors:
        print(f"[{NAME}] WARNING: errors during the load: frontdoor {ours.errors}, bare {bare.errors}")
    c = size.connections
    return [
        ratio_row(NAME, f"requests/s ({c} connections, {ours.client})", ours.rps, bare.rps, "requests/s", GOAL),
        info_row(NAME, "latency p50", ours.p50_ms, "ms", bare.p50_ms),
        Row(NAME, "latency p99", ours.p99_ms, "ms", bare.p99_ms, None, ours.p99_ms < P99_GOAL_MS,
            f"< {P99_GOAL_MS:g} ms"),
        info_row(NAME, "errors (non-201, socket)", float(ours.errors), "count", float(bare.errors)),
        info_row(NAME, "API alone, projections not in the process (diagnostic)", api_only.rps, "requests/s", bare.rps),
        info_row(NAME, "API alone: latency p50", api_only.p50_ms, "ms", bare.p50_ms),
        info_row(NAME, "API alone: latency p99", api_only.p99_ms, "ms", bare.p99_ms),
        ratio_row(NAME, f"city shape ({CITY_RESIDENTS:,} residents): requests/s", city.rps, bare.rps, "requests/s",
                  GOAL),
        info_row(NAME, "city shape: latency p50", city.p50_ms, "ms", bare.p50_ms),
        Row(NAME, "city shape: latency p99", city.p99_ms, "ms", bare.p99_ms, None, city.p99_ms < P99_GOAL_MS,
            f"< {P99_GOAL_MS:g} ms"),
        info_row(NAME, "city shape: errors", float(city.errors), "count", float(bare.errors)),
        Row(NAME, f"city shape: a parallel referral's flag, slowest of {len(flags)} probes during the load",
            max(flags, default=float("inf")), "s", None, None, bool(flags) and max(flags) < FLAG_GOAL_S,
            f"< {FLAG_GOAL_S:g} s"),
        info_row(NAME, "city shape: a parallel referral's flag, median", percentile(flags or [float("inf")], 50),
                 "s", None),
    ]


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))
