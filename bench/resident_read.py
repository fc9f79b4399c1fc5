"""What one read of a resident's events costs nats-server, as the stream grows (issue 15's burst of flags).

The command path folds a resident from their subject's messages (`JetStreamEventStore.read_resident`: batched
direct gets by subject from a sequence on). nats-server finds a subject's next message from a sequence by
scanning its message blocks, so a read from the start costs in proportion to the stream, not to the resident's
few events. Measured here on our own nats-server: N residents' events interleaved (as a city's are), then
nats-server's CPU time for one read of every resident from the start (a cold read), from the resident's last
sequence (the catch-up after a conflict), and, as the baseline, one direct get by sequence (what the catch-up
does when the conflict names the one event it missed).

    python -m bench.resident_read [--residents 2000] [--events-each 10 50]

Not in `bench.run_all` (informational, no goal; about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import nats
import orjson
import psutil

from bench.common import temp_dir
from events.store import JetStreamEventStore
from events.streams import ensure_streams
from events.subjects import CARE_STREAM, resident_subject
from frontdoor.embedded_nats import EmbeddedNats

PAYLOAD = b"x" * 600  # about an event's size


async def measure(residents: int, events_each: int) -> dict[str, float]:
    with temp_dir("resident_read") as workdir:
        server = EmbeddedNats(workdir / "nats").start()
        try:
            assert server.process_id is not None
            nats_cpu = psutil.Process(server.process_id)
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await ensure_streams(js)
            store = JetStreamEventStore(nc, js)
            ids = [str(uuid.uuid4()) for _ in range(residents)]
            for _ in range(events_each):
                await asyncio.gather(*(js.publish(resident_subject(rid), PAYLOAD) for rid in ids))
            last: dict[str, int] = {}

            def cpu() -> float:
                times = nats_cpu.cpu_times()
                return times.user + times.system

            async def each(read: Callable[[str], Awaitable[None]]) -> float:
                before, _ = cpu(), time.perf_counter()
                for rid in ids:
                    await read(rid)
                return (cpu() - before) * 1000 / len(ids)

            async def from_start(rid: str) -> None:
                found, _ = await store._direct_get_batch(resident_subject(rid), 1)
                last[rid] = found[-1][0]

            async def from_last(rid: str) -> None:
                await store._direct_get_batch(resident_subject(rid), last[rid])

            async def by_sequence(rid: str) -> None:
                await nc.request(f"$JS.API.DIRECT.GET.{CARE_STREAM}", orjson.dumps({"seq": last[rid]}))

            result = {"from the start": await each(from_start), "from its last sequence": await each(from_last),
                      "by sequence (baseline)": await each(by_sequence)}
            await nc.close()
            return result
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--events-each", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    print("| events in the stream | read | nats-server CPU per resident (ms) |")
    print("| ---: | --- | ---: |")
    for each in args.events_each:
        for read, ms in asyncio.run(measure(args.residents, each)).items():
            print(f"| {args.residents * each:,} | {read} | {ms:.3f} |")


if __name__ == "__main__":
    main()
