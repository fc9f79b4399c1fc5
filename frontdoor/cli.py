"""The `frontdoor` command (DESIGN §8): serve, project, token, demo-city. Bad input: one line, non-zero exit."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Annotated, NoReturn

import typer
import uvicorn

from frontdoor.api.auth import ROLES, issue_token
from frontdoor.backup_commands import backup_command, restore_command
from frontdoor.heap import settle_heap
from frontdoor.logs import configure_logging
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
    """API + call-handler UI, with the projections in a child process it starts and stops. Starts an embedded
    nats-server when FRONTDOOR_NATS_URL is unset (data under FRONTDOOR_DATA_DIR, default ./var)."""
    settings = load_settings()
    from frontdoor.nats_commands import port_in_use

    if port_in_use(host, port):  # before NATS and the projections start: one line, not a traceback at the end
        fail(f"{host}:{port} is in use (is frontdoor already serving this data directory?); choose --port")
    configure_logging(settings.log_format)
    from frontdoor import http_server

    http_server.run(_serve(settings, host, port, demo))  # on uvloop


async def _serve(settings: Settings, host: str, port: int, demo: bool) -> None:
    from frontdoor.bootstrap import nats_servers, start_services, stop_services
    from frontdoor.projector import ProjectorProcess
    from frontdoor.web import create_web_app

    # The projections run in a child process (`frontdoor project`): this loop serves only requests.
    services = await start_services(settings, run_projections=False, serve_team_commands=True)
    projector = ProjectorProcess(settings, ",".join(nats_servers(services.nc)))
    try:
        projector.start()
        if demo:
            from frontdoor.demo import load_demo

            await load_demo(services)
        application = create_web_app(services)
        from frontdoor import http_server

        server = uvicorn.Server(http_server.config(application, host, port))  # httptools
        settle_heap()
        typer.echo(f"frontdoor serving on http://{host}:{port}/ (API docs at /docs)", err=True)
        # uvicorn shuts down on SIGTERM/SIGINT and then raises the signal again under the handlers it found,
        # which (the defaults) ended the process before the projections, NATS and the embedded server were
        # stopped below. With these, the re-raised signal does nothing and the shutdown finishes.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _after_uvicorn)
        await server.serve()
    finally:
        await projector.stop()  # before NATS: it drains through it
        await stop_services(services)
        typer.echo("frontdoor stopped", err=True)


def _after_uvicorn(_signum: int, _frame: object) -> None:
    """Ignores the signal uvicorn raises again once it has shut down: the caller stops the rest in order."""




@app.command()
def project(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build every read model again from the whole stream "
                                                            "beside the live ones, switch them in in one "
                                                            "transaction when caught up, then go live")] = False,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics and /health on this port",
                                                     min=1, max=65535)] = None,
    metrics_host: Annotated[str, typer.Option(help="Address of the metrics port")] = "127.0.0.1",
    only: Annotated[list[str] | None, typer.Option(
        "--only", metavar="NAME", help="Run only this projection (repeat for more); the others are left to other "
                                       "processes. Names: resident_view, caseload, flags, duplicate_detector, "
                                       "team_router, audit_log")] = None,
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="Exit (0) once every projection run here has applied its stream as it stood at "
                                  "the start")] = False,
    second_set: Annotated[bool, typer.Option(
        "--second-set", help="With --until-caught-up: work on the second set of read models a --rebuild is "
                             "building (how a rebuild's helper process runs)")] = False,
) -> None:
    """Run the projections as a separate worker (several processes may share one NATS and one database)."""
    settings = load_settings()
    configure_logging(settings.log_format)
    if rebuild and (only or until_caught_up or second_set):
        fail("--rebuild builds every read model and then goes live: it takes none of --only, --until-caught-up, "
             "--second-set")
    if second_set and not until_caught_up:
        fail("--second-set is a rebuild's helper: it needs --until-caught-up (the rebuild itself switches the set in)")
    from frontdoor.bootstrap import PROJECTION_NAMES

    unknown = sorted(set(only or ()) - set(PROJECTION_NAMES))
    if unknown:
        fail(f"--only: no projection named {', '.join(unknown)} (there are {', '.join(PROJECTION_NAMES)})")
    code = asyncio.run(_project(settings, rebuild, (metrics_host, metrics_port) if metrics_port else None,
                                only=only or None, until_caught_up=until_caught_up, second_set=second_set))
    raise typer.Exit(code)


async def _project(settings: Settings, rebuild: bool, operations: tuple[str, int] | None = None, *,
                   only: list[str] | None = None, until_caught_up: bool = False, second_set: bool = False) -> int:
    from frontdoor.bootstrap import nats_servers, projection_runners, start_services, stop_services
    from frontdoor.catch_up import help_rebuild, start_runners, until_applied

    services = await start_services(settings, run_projections=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if rebuild:  # the live read models keep answering until the rebuilt ones are switched in
            from frontdoor.rebuild import rebuild_beside

            settle_heap()  # a rebuild is the longest run of decoding there is
            await rebuild_beside(services)
        if second_set:  # a rebuild's helper, on the set the rebuild opened (and seeded) beside the live one
            settle_heap()
            return await help_rebuild(services, only, stop)
        services.runners = projection_runners(services)
        if only:
            services.runners = {name: r for name, r in services.runners.items() if name in only}
        from frontdoor.projector import answer_status

        await answer_status(services.nc, services.runners)  # /health of an API elsewhere asks
        if until_caught_up:
            settle_heap()  # a catch-up is a long run of decoding
            return await until_applied(services, services.runners, stop)
        # An operator's --only splits the work across processes already: no helper on top of that.
        tasks = await start_runners(services, services.runners, ",".join(nats_servers(services.nc)),
                                    helpers=not only)
        services.tasks.extend(tasks)
        if operations is not None:  # /metrics and /health of this worker (issue 14)
            from frontdoor.projector_http import start_operations_endpoint

            services.tasks.append(start_operations_endpoint(services, *operations))
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
    with known answers, scoring only the flags on that city's residents. Waits (with progress) until the detector
    and the flags have caught up with the stream: applied here, or by a `serve` or `project` already running."""
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

    result = asyncio.run(run_evaluation(settings, known, wait))
    print_scores(result, as_json=as_json)


@app.command()
def check() -> None:
    """Consistency check: NHS-number claims whose registration never landed, and NHS numbers registered to more
    than one resident (exit 1 if any are found)."""
    settings = load_settings()
    raise typer.Exit(asyncio.run(_check(settings)))


async def _check(settings: Settings) -> int:
    from frontdoor.bootstrap import start_services, stop_services
    from frontdoor.consistency import check_claims, duplicate_numbers

    services = await start_services(settings, run_projections=False)
    try:
        checked, problems = await check_claims(services)
        problems += await duplicate_numbers(services)
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


# The analysts' commands (replay, report, export-fhir) live in their own module.
from frontdoor.analyst_commands import register as _register_analyst_commands  # noqa: E402

_register_analyst_commands(app)
# Backup and restore of the streams (issue 14).
app.command("backup")(backup_command)
app.command("restore")(restore_command)
# NATS security (DESIGN §9): nats-config, team-credentials.
from frontdoor.nats_commands import register as register_nats_commands  # noqa: E402 - after the app exists

register_nats_commands(app)


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        app()
    sys.exit(0)
