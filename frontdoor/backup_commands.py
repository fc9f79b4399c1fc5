"""`frontdoor backup --out DIR` and `frontdoor restore DIR` (registered in cli.py): the streams and the NHS-number
and idempotency buckets, with JetStream's snapshot API (see frontdoor/backup.py for why)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from nats.aio.client import Client as NATS

from frontdoor.settings import Settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:
        typer.echo(f"frontdoor: bad configuration: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from exc


def backup_command(
    out: Annotated[str, typer.Option(help="A new (or empty) directory for the backup", metavar="DIR")],
) -> None:
    """Back up CARE, AUDIT, TEAMS and the NHS_NUMBERS and IDEMPOTENCY buckets (JetStream snapshots, checked by
    the server as they are taken) into DIR, with a manifest. Safe while the service runs."""
    from frontdoor.backup import BackupError, backup

    settings = _settings()
    try:
        done = asyncio.run(_with_nats(settings, lambda nc: backup(nc, Path(out))))
    except BackupError as exc:
        typer.echo(f"frontdoor: {exc}", err=True)
        raise typer.Exit(1) from exc
    for item in done:
        typer.echo(f"{item.stream}: {item.messages} messages, seq {item.first_seq}..{item.last_seq}, {item.bytes} B")
    typer.echo(f"frontdoor: backup written to {out}", err=True)


def restore_command(
    source: Annotated[str, typer.Argument(help="A directory written by `frontdoor backup`", metavar="DIR")],
) -> None:
    """Restore a backup into a NATS that does not have the streams yet (a fresh server or cluster), at
    FRONTDOOR_STREAM_REPLICAS. Then rebuild the read models: `frontdoor project --rebuild`."""
    from frontdoor.backup import BackupError, restore

    settings = _settings()
    try:
        restored = asyncio.run(_with_nats(settings, lambda nc: restore(nc, Path(source),
                                                                       replicas=settings.stream_replicas)))
    except BackupError as exc:
        typer.echo(f"frontdoor: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"frontdoor: restored {', '.join(restored)}; now rebuild the read models "
               "(`frontdoor project --rebuild`)", err=True)


async def _with_nats(settings: Settings, work: Callable[[NATS], Awaitable[T]]) -> T:
    """Connects as the service does (FRONTDOOR_NATS_URL, or the data dir's embedded server) and runs `work`."""
    from frontdoor.bootstrap import connect_nats

    nc, embedded = await connect_nats(settings)
    try:
        return await work(nc)
    finally:
        await nc.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
