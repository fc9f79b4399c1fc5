"""How fast this machine runs plain Python just now, so that runs on different days can be read side by side.

The ratios in the table compare figures of one run and hold across machines; the absolute goals (a rebuild
under 25 s, a p99 under 25 ms) do not. Machines of the same kind here have run the same pure-Python loop in
0.79-1.24 s on one day and 1.7-2.3 s on another (docs/BENCHMARKS.md): an absolute figure means little without
this one beside it. The loop runs in a fresh interpreter, so the harness's own heap and imports do not weigh on it;
the best of three is reported, as the least disturbed by other work on the machine.
"""

from __future__ import annotations

import subprocess
import sys

from bench.common import Row, info_row

NAME = "machine"
LOOP = """
import time
began = time.perf_counter()
total = 0
for i in range(10_000_000):
    total += i
print(time.perf_counter() - began)
"""
METRIC = "10,000,000 additions in a pure-Python loop (best of 3; smaller is faster)"


def loop_seconds(tries: int = 3) -> float:
    return min(float(subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, check=True,
                                    timeout=120).stdout) for _ in range(tries))


def row(when: str) -> Row:
    return info_row(NAME, f"{METRIC}, {when}", loop_seconds(), "s")


if __name__ == "__main__":
    print(f"{loop_seconds():.2f} s")
