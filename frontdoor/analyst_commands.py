"""The analysts' commands (DESIGN §9): `replay`, `report`, `export-fhir`. Registered on the `frontdoor` app by
`register`; each translates its options, calls one use case, and prints what it did."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.engine import make_url

from events.catalogue import ExportMade
from events.envelope import Actor
from events.ids import uuid7
from frontdoor.settings import Settings

if TYPE_CHECKING:  # the replay brings pyarrow, a second's import: only the commands that need it pay for it
    from projections.analyst.replay import Export


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.command("report")(report)
    app.command("export-fhir")(export_fhir)


def replay(
    to: Annotated[str | None, typer.Option("--to", help="SQLAlchemy URL of the analyst database "
                                                        "(sqlite:///…, postgresql://…)", metavar="URL")] = None,
    parquet: Annotated[str | None, typer.Option("--parquet", help="Folder for one Parquet file per table",
                                                metavar="DIR")] = None,
    until: Annotated[str | None, typer.Option(help="Keep the events recorded (stream time) at or before this "
                                                   "ISO time, e.g. 2026-11-30T12:00:00Z", metavar="TIME")] = None,
    by: Annotated[str, typer.Option(help="Who makes the export (the audit trail names them)")] = getpass.getuser(),
    checkpoint_every: Annotated[int, typer.Option(help="Save progress every this many events", min=1,
                                                  hidden=True)] = 250_000,
) -> None:
    """Replay CARE into pseudonymised analyst tables (SQL or Parquet). Resumable: run it again after an
    interruption and it goes on where it stopped. Every export is recorded (ExportMade) in the AUDIT stream."""
    from frontdoor.cli import fail, load_settings

    if (to is None) == (parquet is None):
        fail("say where to: --to URL or --parquet DIR (one of them)")
    cut = None
    if until is not None:
        try:
            cut = datetime.fromisoformat(until)
        except ValueError:
            fail(f"--until {until!r} is not an ISO time")
        if cut.tzinfo is None:
            fail("--until needs a time zone, e.g. 2026-11-30T12:00:00Z")
    settings = load_settings()
    if to is not None:
        from projections.database import async_url

        try:
            url = make_url(to)
        except Exception:
            fail(f"--to {to!r} is not a database URL")
        if async_url(to) == async_url(settings.resolved_database_url()):
            fail("--to names the read-model database; give the analysts a database of their own")
        destination = url.render_as_string(hide_password=True)
    else:
        destination = str(Path(parquet or ".").resolve())
    export = asyncio.run(_replay(settings, to, parquet, cut, by, destination, checkpoint_every))
    resumed = f", resumed after event {export.resumed_from}" if export.resumed_from else ""
    counts = ", ".join(f"{n} {t}" for t, n in export.rows.items())
    typer.echo(f"frontdoor: exported events {export.from_seq}..{export.to_seq}{resumed} to {destination}: {counts}",
               err=True)


async def _replay(settings: Settings, to: str | None, parquet: str | None, until: datetime | None, by: str,
                  destination: str, checkpoint_every: int) -> Export:
    from frontdoor.bootstrap import start_services, stop_services
    from projections.analyst.fold import Rows
    from projections.analyst.pseudonyms import Pseudonyms
    from projections.analyst.replay import replay as run_replay
    from projections.analyst.writers import write_parquet, write_sql
    from projections.database import create_engine

    services = await start_services(settings, run_projections=False)
    key = hashlib.sha256(destination.encode()).hexdigest()[:16]
    checkpoint = settings.resolved_data_dir() / "replay" / f"{key}.checkpoint"

    async def write(rows: Rows) -> None:
        if parquet is not None:
            await asyncio.to_thread(write_parquet, Path(parquet), rows)
            return
        assert to is not None
        engine = create_engine(to)
        try:
            await write_sql(engine, rows)
        finally:
            await engine.dispose()

    async def audit(from_seq: int, to_seq: int) -> None:
        # Before anything is written: an export the audit trail does not know of must not exist.
        event = ExportMade(by=by, destination=destination, from_seq=from_seq, to_seq=to_seq,
                           as_of=until.isoformat() if until else None)
        await services.audit.record(event, actor=Actor(id=by, role="analyst"), resident_id="-",
                                    correlation_id=uuid7())

    console = Console(stderr=True)
    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]} events/s"), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("replay", total=None, rate="-")

            def progress(done: int, total: int) -> None:
                speed = bar.tasks[0].speed
                bar.update(task, completed=done, total=total, rate=f"{speed:,.0f}" if speed else "-")

            return await run_replay(services.nc, services.js, pseudonyms=Pseudonyms(settings.resolved_pseudonym_key()),
                                    destination=destination, write=write, checkpoint=checkpoint, until=until,
                                    clusters=frozenset(c.id for c in services.teams.clusters), progress=progress,
                                    checkpoint_every=checkpoint_every, before_write=audit)
    finally:
        await stop_services(services)


def report(
    source: Annotated[str, typer.Option("--from", help="The Parquet folder or the database URL of a replay",
                                        metavar="DIR_OR_URL")],
    out: Annotated[str, typer.Option(help="The HTML file to write", metavar="FILE.html")] = "report.html",
) -> None:
    """One self-contained HTML page of figures from a replay, each with the query behind it. Counts under 5 are
    shown as "<5"."""
    from frontdoor.analyst_report import build_report
    from frontdoor.cli import fail

    try:
        html = build_report(source)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the replay at {source}: {exc}")
    Path(out).write_text(html, encoding="utf-8")
    typer.echo(f"frontdoor: wrote {out}", err=True)


def export_fhir(
    resident_id: Annotated[str, typer.Argument(help="The resident's id")],
    by: Annotated[str, typer.Option(help="Who asks (the audit trail names them)")] = getpass.getuser(),
    purpose: Annotated[str, typer.Option(help="Why (recorded in the audit trail)")] = "FHIR export",
) -> None:
    """Print the resident's joined-up view as a FHIR R4B Bundle (JSON) on stdout, and nothing else. Audited."""
    from events.subjects import is_resident_id
    from frontdoor.cli import fail, load_settings
    from frontdoor.domain.errors import DomainError

    if not is_resident_id(resident_id):
        fail(f"not a resident id: {resident_id[:80]!r} (a UUID)")
    settings = load_settings()
    try:
        bundle = asyncio.run(_export_fhir(settings, resident_id, by, purpose))
    except DomainError as exc:
        fail(exc.detail)
    typer.echo(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode())


async def _export_fhir(settings: Settings, resident_id: str, by: str, purpose: str) -> dict[str, object]:
    from frontdoor.application.fhir import resident_fhir
    from frontdoor.application.who import Asked, Principal
    from frontdoor.bootstrap import start_services, stop_services

    services = await start_services(settings, run_projections=False)
    try:
        return await resident_fhir(services, Principal(sub=by, role="admin"), Asked(correlation_id=uuid7(),
                                                                                   purpose=purpose), resident_id)
    finally:
        await stop_services(services)
