"""The restore drill: a demo city is written and projected, backed up with `frontdoor backup`, restored with
`frontdoor restore` into a fresh nats-server, and the read models are rebuilt there. The restored streams are
identical to the originals (every sequence, subject, header, payload and stream time, gaps included), and the
rebuilt read models equal the original ones row for row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.subjects import AUDIT_STREAM, CARE_STREAM, NHS_NUMBERS_BUCKET, TEAMS_STREAM
from frontdoor.backup import STREAMS
from frontdoor.bootstrap import start_services, stop_services
from frontdoor.demo_city.writer import write_city
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.settings import Settings
from frontdoor.web import create_web_app
from tests.conftest import bounded
from tests.drills.test_two_of_each import dump, settled
from tests.integration.conftest import SECRET, auth

FRONTDOOR = str(Path(sys.executable).parent / "frontdoor")


def run_cli(*args: str, nats_url: str, data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env |= {"FRONTDOOR_NATS_URL": nats_url, "FRONTDOOR_DATA_DIR": str(data_dir), "FRONTDOOR_JWT_SECRET": SECRET}
    done = subprocess.run([FRONTDOOR, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def contents(js: JetStreamContext, stream: str) -> tuple[Any, list[Any]]:
    info = await js.stream_info(stream)
    # An empty stream says first_seq 0 when never written and 1 when restored empty: the same stream.
    state = (info.state.messages, info.state.first_seq if info.state.messages else None, info.state.last_seq)
    found = []
    for seq in range(1, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(stream, seq=seq)
        except NotFoundError:
            found.append((seq, None))  # a gap (a deleted KV key): it must stay a gap
            continue
        found.append((seq, msg.subject, msg.headers, msg.data, msg.time))
    return state, found


async def test_backup_restore_into_a_fresh_server_and_rebuild_gives_identical_streams_and_read_models(
        nats_server: EmbeddedNats, js: JetStreamContext, tmp_path: Path) -> None:
    originals, after_rebuild = await restore_drill(nats_server, js, tmp_path)
    assert after_rebuild[CARE_STREAM] == originals[CARE_STREAM]  # the rebuild emitted nothing (no flag twice)


async def test_a_rebuild_after_a_restore_publishes_nothing_to_the_team_feeds_again(
        nats_server: EmbeddedNats, js: JetStreamContext, tmp_path: Path) -> None:
    originals, after_rebuild = await restore_drill(nats_server, js, tmp_path)
    assert after_rebuild[TEAMS_STREAM][0] == originals[TEAMS_STREAM][0]


Contents = dict[str, tuple[Any, list[Any]]]


async def restore_drill(nats_server: EmbeddedNats, js: JetStreamContext, tmp_path: Path) -> tuple[Contents, Contents]:
    """Writes, projects, backs up, restores into a fresh server and rebuilds there; checks the restored streams and
    the rebuilt read models; returns the streams as they were and as they are after the rebuild."""
    original = Settings(nats_url=nats_server.url, database_url=f"sqlite+aiosqlite:///{tmp_path / 'original.db'}",
                        data_dir=tmp_path / "data", jwt_secret=SECRET)
    services = await start_services(original, run_projections=True)
    try:
        await write_city(services, residents=40, seed=7, progress=False)
        claims = await js.key_value(NHS_NUMBERS_BUCKET)
        await claims.create("9434765919", b"spare")
        await claims.delete("9434765919")  # a gap in the bucket's stream, which a restore must keep
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(services)),
                                     base_url="http://frontdoor", headers=auth("coordinator")) as http:
            found = (await http.get("/residents", params={"q": "SO"})).json()
            for resident in found.get("residents", found.get("results", []))[:3]:
                assert (await http.get(f"/residents/{resident['resident_id']}")).status_code == 200  # audited
        await settled(services.engine, js, within=120)
        before = await dump(services.engine)
    finally:
        await bounded(stop_services(services), "the original services")
    originals = {stream: await contents(js, stream) for stream in STREAMS}
    assert originals[AUDIT_STREAM][0][0] > 0 and originals[TEAMS_STREAM][0][0] > 0

    backup_dir = tmp_path / "backup"
    run_cli("backup", "--out", str(backup_dir), nats_url=nats_server.url, data_dir=tmp_path / "cli")
    fresh = EmbeddedNats(tmp_path / "fresh").start()
    try:
        run_cli("restore", str(backup_dir), nats_url=fresh.url, data_dir=tmp_path / "cli")
        nc = await nats.connect(fresh.url)
        try:
            fresh_js = nc.jetstream()
            for stream in STREAMS:
                assert await contents(fresh_js, stream) == originals[stream], f"{stream} differs after restore"
            rebuilt = Settings(nats_url=fresh.url, database_url=f"sqlite+aiosqlite:///{tmp_path / 'rebuilt.db'}",
                               data_dir=tmp_path / "data2", jwt_secret=SECRET)
            again = await start_services(rebuilt, run_projections=True)
            try:
                await settled(again.engine, fresh_js, within=120)
                after = await dump(again.engine)
            finally:
                await bounded(stop_services(again), "the rebuilt services")
            for table in before:
                assert after[table] == before[table], f"table {table} differs after restore and rebuild"
            return originals, {stream: await contents(fresh_js, stream) for stream in STREAMS}
        finally:
            await nc.close()
    finally:
        fresh.stop()
