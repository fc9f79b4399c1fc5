"""Backing up and restoring the streams (the only source of truth) with JetStream's own snapshot API.

Why the snapshot API ($JS.API.STREAM.SNAPSHOT / RESTORE) and not reading every message and publishing it again:
a restore must give back the stream exactly — the same sequences (every read model, checkpoint, `?min_seq=` and
`Frontdoor-Source-Seq` refers to them), the same stream times (`replay --until` and the lag metric read them), the
same headers, the gaps left by deleted KV keys, and the team durables' positions. Republishing renumbers after any
gap, stamps new times, and cannot restore a consumer. A snapshot is the server's own file-store blocks, checked by
the server as it is taken (`jsck`), restored whole or not at all.

Layout of a backup directory: `manifest.json` (when, from which server, each stream's config, state and file with
its SHA-256) and one `<STREAM>.tar.s2` per stream (the server's snapshot format, streamed in chunks).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from events.subjects import AUDIT_STREAM, CARE_STREAM, IDEMPOTENCY_BUCKET, NHS_NUMBERS_BUCKET, TEAMS_STREAM

log = logging.getLogger("frontdoor.backup")

# The streams that hold facts. The leases bucket is left out on purpose: a restored lease would only make the
# projectors wait for its TTL. Consumers are kept only where a reader outside us owns its position (the teams'
# durables on TEAMS); the projections' durables are recreated from their checkpoints after a rebuild.
STREAMS: dict[str, bool] = {  # stream -> keep its consumers
    CARE_STREAM: False,
    AUDIT_STREAM: False,
    TEAMS_STREAM: True,
    f"KV_{NHS_NUMBERS_BUCKET}": False,
    f"KV_{IDEMPOTENCY_BUCKET}": False,
}
MANIFEST = "manifest.json"
CHUNK = 128 * 1024
API_TIMEOUT_S = 30.0
CHUNK_TIMEOUT_S = 30.0


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class StreamBackup:
    stream: str
    file: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int


async def backup(nc: NATS, out: Path) -> list[StreamBackup]:
    """Snapshots every stream of STREAMS that exists into `out` (created; must be empty)."""
    _empty_directory(out)
    manifest: dict[str, Any] = {"format": 1, "created_at": datetime.now(UTC).isoformat(),
                                "server": str(nc.connected_server_version),
                                "streams": {}}
    done = []
    for stream, keep_consumers in STREAMS.items():
        info = await _api(nc, f"$JS.API.STREAM.INFO.{stream}", {}, missing_ok=True)
        if info is None:
            log.warning("stream %s does not exist: not in this backup", stream)
            continue
        file = f"{stream}.tar.s2"
        digest, size, reply = await _snapshot(nc, stream, out / file, keep_consumers)
        state = reply.get("state") or info["state"]
        manifest["streams"][stream] = {"file": file, "sha256": digest, "size": size,
                                       "config": reply.get("config") or info["config"], "state": state}
        done.append(StreamBackup(stream, file, int(state.get("messages", 0)), size,
                                 int(state.get("first_seq", 0)), int(state.get("last_seq", 0))))
        log.info("backed up %s: %d messages, seq %d..%d, %d bytes", stream, done[-1].messages,
                 done[-1].first_seq, done[-1].last_seq, size)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return done


async def _snapshot(nc: NATS, stream: str, path: Path, keep_consumers: bool) -> tuple[str, int, dict[str, Any]]:
    inbox = nc.new_inbox()
    chunks: asyncio.Queue[Msg] = asyncio.Queue()

    async def collect(msg: Msg) -> None:
        await chunks.put(msg)

    sub = await nc.subscribe(inbox, cb=collect)
    try:
        reply = await _api(nc, f"$JS.API.STREAM.SNAPSHOT.{stream}",
                           {"deliver_subject": inbox, "chunk_size": CHUNK, "jsck": True,
                            "no_consumers": not keep_consumers})
        assert reply is not None
        digest, size = hashlib.sha256(), 0
        with path.open("wb") as file:
            while True:
                msg = await asyncio.wait_for(chunks.get(), CHUNK_TIMEOUT_S)
                if not msg.data:  # the end: an empty message, with an error status if the snapshot failed
                    status = (msg.headers or {}).get("Status")
                    if status and status not in ("200", "204"):
                        raise BackupError(f"snapshot of {stream} failed: {status} "
                                          f"{(msg.headers or {}).get('Description', '')}")
                    break
                file.write(msg.data)
                digest.update(msg.data)
                size += len(msg.data)
                if msg.reply:  # the server sends the next window only once chunks are acknowledged
                    await nc.publish(msg.reply, b"")
        return digest.hexdigest(), size, reply
    finally:
        await sub.unsubscribe()


async def restore(nc: NATS, source: Path, *, replicas: int) -> list[str]:
    """Restores every stream of a backup directory into a server that does not have them yet."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a frontdoor backup ({MANIFEST}: {exc})") from exc
    streams: dict[str, Any] = manifest["streams"]
    for stream, entry in streams.items():  # check everything before changing anything
        path = source / entry["file"]
        if not path.exists() or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path} is missing or does not match its checksum in {MANIFEST}")
        if await _api(nc, f"$JS.API.STREAM.INFO.{stream}", {}, missing_ok=True) is not None:
            raise BackupError(f"stream {stream} already exists here: restore into a fresh server (or delete the "
                              "streams first, knowing what that means)")
    restored = []
    for stream, entry in streams.items():
        config = dict(entry["config"]) | {"num_replicas": replicas}  # the target's shape, not the source's
        reply = await _api(nc, f"$JS.API.STREAM.RESTORE.{stream}", {"config": config, "state": entry["state"]})
        assert reply is not None
        deliver = reply["deliver_subject"]
        with (source / entry["file"]).open("rb") as file:
            while chunk := file.read(CHUNK):
                await nc.request(deliver, chunk, timeout=CHUNK_TIMEOUT_S)
        done = await nc.request(deliver, b"", timeout=max(API_TIMEOUT_S, entry["size"] / 1_000_000))
        answer = json.loads(done.data or b"{}")
        if answer.get("error"):
            raise BackupError(f"restoring {stream} failed: {answer['error']}")
        state = answer.get("state", {})
        log.info("restored %s: %s messages, seq %s..%s", stream, state.get("messages"), state.get("first_seq"),
                 state.get("last_seq"))
        restored.append(stream)
    return restored


async def _api(nc: NATS, subject: str, body: dict[str, Any], *, missing_ok: bool = False) -> dict[str, Any] | None:
    msg = await nc.request(subject, json.dumps(body).encode(), timeout=API_TIMEOUT_S)
    answer: dict[str, Any] = json.loads(msg.data)
    error = answer.get("error")
    if error:
        if missing_ok and error.get("err_code") == 10059:  # stream not found
            return None
        raise BackupError(f"{subject}: {error.get('description')} (err_code {error.get('err_code')})")
    return answer


def _empty_directory(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise BackupError(f"{out} is not empty: back up into a new directory")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
