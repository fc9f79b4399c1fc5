"""`frontdoor replay` killed with SIGKILL half-way and run again gives the same Parquet bytes as one clean run, and
each export is recorded in the AUDIT stream (a subprocess against the session's real nats-server)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
from nats.js import JetStreamContext

from events.subjects import AUDIT_STREAM
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.services import Services
from projections.analyst.replay import checkpoint_state
from tests.integration.analyst_city import city


def _env(nats_server: EmbeddedNats, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FRONTDOOR_NATS_URL": nats_server.url, "FRONTDOOR_DATA_DIR": str(tmp_path / "cli"),
            "FRONTDOOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "FRONTDOOR_PSEUDONYM_KEY": "resume-test-key-0123456789abcdef"}


def _replay(folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "frontdoor", "replay", "--parquet", str(folder), "--by", "analyst-ann", *extra]


async def test_a_replay_killed_half_way_then_run_again_writes_the_bytes_of_a_clean_run(
        services: Services, js: JetStreamContext, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    last = await city(services, residents=500, seed=33)
    env = _env(nats_server, tmp_path)
    resumed, clean = tmp_path / "resumed", tmp_path / "clean"

    process = subprocess.Popen(_replay(resumed, "--checkpoint-every", "100"), env=env,  # noqa: ASYNC220
                               stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "cli" / "replay"
    deadline = asyncio.get_running_loop().time() + 120
    while not any(checkpoints.glob("*.checkpoint")):
        assert process.poll() is None, "the replay finished before it could be interrupted"
        assert asyncio.get_running_loop().time() < deadline, "no checkpoint was written"
        await asyncio.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait, 30)
    saved = checkpoint_state(next(checkpoints.glob("*.checkpoint")))
    assert saved is not None and 0 < saved["state"]["seq"] < last, "killed before half-way was reached"
    assert not (resumed / "residents.parquet").exists()

    again = await asyncio.to_thread(subprocess.run, _replay(resumed), env=env, capture_output=True, text=True,
                                    timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert f"resumed after event {saved['state']['seq']}" in again.stderr
    once = await asyncio.to_thread(subprocess.run, _replay(clean), env=env, capture_output=True, text=True,
                                   timeout=120, check=False)
    assert once.returncode == 0, once.stderr
    assert "resumed" not in once.stderr

    files = sorted(p.name for p in clean.glob("*.parquet"))
    assert len(files) == 12
    for name in files:
        assert (resumed / name).read_bytes() == (clean / name).read_bytes(), name
    assert not any(checkpoints.glob("*.checkpoint"))  # a finished export leaves no checkpoint behind
    audit = [orjson.loads((await js.get_msg(AUDIT_STREAM, seq)).data or b"{}")
             for seq in range(1, (await js.stream_info(AUDIT_STREAM)).state.last_seq + 1)]
    exports = [a["data"] for a in audit if a["type"] == "ExportMade"]
    assert [(e["by"], e["destination"], e["from_seq"], e["to_seq"], e["as_of"]) for e in exports] == [
        ("analyst-ann", str(resumed), 1, last, None), ("analyst-ann", str(clean), 1, last, None)]
