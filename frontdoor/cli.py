"""The `frontdoor` command (DESIGN §8): serve, project, token, demo-city. Bad input: one line, non-zero exit."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from typing import Annotated, NoReturn

import typer
import uvicorn

from frontdoor.api.auth import ROLES, issue_token
from frontdoor.settings import Settings

app = typer.Typer(help="frontdoor: an event-sourced single front door for joined-up health and social care.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def fail(message: str) -> NoReturn:
    typer.echo(f"frontdoor: {message}", err=True)
    raise typer.Exit(2)


def load_settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # a bad FRONTDOOR_* value: say which, in one line
        fail(f"bad configuration: {str(exc).splitlines()[0]}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65535)] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Load the team directory and a small synthetic city, "
                                                      "and print sign-in tokens")] = False,
) -> None:
    """API + call-handler UI + projections in one process. Starts an embedded nats-server when
    FRONTDOOR_NATS_URL is unset (data under FRONTDOOR_DATA_DIR, default ./var)."""
    settings = load_settings()
    from frontdoor.nats_commands import port_in_use

    if port_in_use(host, port):  # before NATS and the projections start: one line, not a traceback at the end
        fail(f"{host}:{port} is in use (is frontdoor already serving this data directory?); choose --port")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(settings, host, port, demo))


async def _serve(settings: Settings, host: str, port: int, demo: bool) -> None:
    from frontdoor.bootstrap import start_services, stop_services
    from frontdoor.web import create_web_app

    services = await start_services(settings, run_projections=True, serve_team_commands=True)
    try:
        if demo:
            from frontdoor.demo import load_demo

            await load_demo(services)
        application = create_web_app(services)
        server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="info",
                                               lifespan="off"))
        settle_heap()
        typer.echo(f"frontdoor serving on http://{host}:{port}/ (API docs at /docs)", err=True)
        # uvicorn shuts down on SIGTERM/SIGINT and then raises the signal again under the handlers it found,
        # which (the defaults) ended the process before the projections, NATS and the embedded server were
        # stopped below. With these, the re-raised signal does nothing and the shutdown finishes.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _after_uvicorn)
        await server.serve()
    finally:
        await stop_services(services)
        typer.echo("frontdoor stopped", err=True)


def _after_uvicorn(_signum: int, _frame: object) -> None:
    """Ignores the signal uvicorn raises again once it has shut down: the caller stops the rest in order."""


def settle_heap() -> None:
    """Moves everything alive after start-up (modules, models, schemas, routes: most of the heap) out of the
    garbage collector's sight. Full collections then walk only what the work allocates: at 1,000 events/s they
    paused the event loop for about 100 ms every few seconds, straight into request latency."""
    gc.collect()
    gc.freeze()


@app.command()
def project(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop every read model and replay the whole "
                                                            "stream before going live")] = False,
) -> None:
    """Run the projections as a separate worker (several processes may share one NATS and one database)."""
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code = asyncio.run(_project(settings, rebuild))
    raise typer.Exit(code)


async def _project(settings: Settings, rebuild: bool) -> int:
    from frontdoor.bootstrap import projection_runners, start_services, stop_services

    services = await start_services(settings, run_projections=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        services.runners = projection_runners(services)
        if rebuild:
            for runner in services.runners.values():
                await runner.reset()
        tasks = [asyncio.create_task(r.run(), name=r.name) for r in services.runners.values()]
        services.tasks.extend(tasks)
        settle_heap()
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                typer.echo(f"frontdoor: {task.exception()}", err=True)
                return 1
        return 0
    finally:
        await stop_services(services)


@app.command()
def token(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}")],
    team: Annotated[str | None, typer.Option(help="The team id (required for --role team)")] = None,
    sub: Annotated[str, typer.Option(help="Who the token is for (the audit trail names them)")] = "local-user",
    hours: Annotated[int, typer.Option(help="Hours until it expires", min=1, max=24 * 30)] = 12,
) -> None:
    """Print a bearer token for local use, signed with FRONTDOOR_JWT_SECRET (or the data dir's secret)."""
    settings = load_settings()
    try:
        typer.echo(issue_token(settings.resolved_jwt_secret(), sub=sub, role=role, team_id=team, ttl_s=hours * 3600))
    except ValueError as exc:
        fail(str(exc))


@app.command("demo-city")
def demo_city(
    residents: Annotated[int, typer.Option(help="Resident records to write", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="The same seed (and size, on the same day) writes the same city")] = 1,
    truth: Annotated[str | None, typer.Option(help="Write the injected duplicate work, duplicate people and "
                                                   "near misses to this JSON file", metavar="FILE")] = None,
) -> None:
    """Write a synthetic Southampton-like city through the real commands, with a progress bar. Writing the
    same city again writes nothing new."""
    from pathlib import Path

    from frontdoor.demo_city.writer import run_demo_city

    settings = load_settings()
    report = asyncio.run(run_demo_city(settings, residents=residents, seed=seed,
                                       truth_path=Path(truth) if truth else None))
    typer.echo(f"frontdoor: demo city written: {report.summary()}", err=True)


@app.command()
def evaluate(
    truth: Annotated[str, typer.Option(help="The truth file written by `demo-city --truth`", metavar="FILE")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    wait: Annotated[float, typer.Option(help="Longest wait, in seconds, for the detector to catch up")] = 600,
) -> None:
    """Precision, recall and F1 of the duplicate-work detector per rule and for identity linking, against a city
    with known answers. Runs the projections until they have caught up with the stream first."""
    import json
    from pathlib import Path

    from frontdoor.evaluation import check_truth

    path = Path(truth)
    try:
        known = check_truth(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the truth file {path}: {exc}")
    settings = load_settings()
    from frontdoor.evaluation_run import print_scores, run_evaluation

    scores = asyncio.run(run_evaluation(settings, known, wait))
    print_scores(scores, as_json=as_json)


@app.command()
def check() -> None:
    """Consistency check: NHS-number claims whose registration never landed (exit 1 if any are found)."""
    settings = load_settings()
    raise typer.Exit(asyncio.run(_check(settings)))


async def _check(settings: Settings) -> int:
    from frontdoor.bootstrap import start_services, stop_services
    from frontdoor.consistency import check_claims

    services = await start_services(settings, run_projections=False)
    try:
        checked, problems = await check_claims(services)
    finally:
        await stop_services(services)
    for p in problems:
        typer.echo(f"NHS number {p.number}: claimed by {p.resident_id}: {p.problem}")
    typer.echo(f"frontdoor: {checked} NHS-number claims checked, {len(problems)} need attention", err=True)
    return 1 if problems else 0


@app.command()
def spec(
    out: Annotated[str, typer.Option(help="Folder to write openapi.json and asyncapi.json into")] = "docs",
) -> None:
    """Write the HTTP (OpenAPI) and NATS (AsyncAPI) contracts as JSON documents."""
    from pathlib import Path

    from frontdoor.specs import asyncapi_document, openapi_document, render

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openapi.json").write_text(render(openapi_document()))
    (folder / "asyncapi.json").write_text(render(asyncapi_document()))
    typer.echo(f"wrote {folder / 'openapi.json'} and {folder / 'asyncapi.json'}", err=True)


# NATS security (DESIGN §9): nats-config, team-credentials.
from frontdoor.nats_commands import register as register_nats_commands  # noqa: E402 - after the app exists

register_nats_commands(app)


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        app()
    sys.exit(0)
