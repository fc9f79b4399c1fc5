"""`frontdoor nats-config` and `frontdoor team-credentials` (DESIGN §9): the NATS configuration that keeps teams
apart, and the one line a team system connects with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from frontdoor.nats_config import NatsConfigError, team_url, write_config
from frontdoor.settings import Settings
from frontdoor.teams import TeamDirectoryError, load_teams


def _fail(message: str) -> None:
    typer.echo(f"frontdoor: {message}", err=True)
    raise typer.Exit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # a bad FRONTDOOR_* value: say which, in one line
        _fail(f"bad configuration: {str(exc).splitlines()[0]}")
        raise


def nats_config(
    out: Annotated[str, typer.Option(help="Folder to write nats-server.conf, auth.conf, frontdoor.url and "
                                          "credentials.json into", metavar="DIR")],
    host: Annotated[str, typer.Option(help="Address the server listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the server listens on", min=1, max=65535)] = 4222,
    rotate: Annotated[list[str] | None, typer.Option(help="Give this team (or `frontdoor`) a new password; "
                                                          "repeat for several", metavar="TEAM")] = None,
) -> None:
    """Write a nats-server configuration with authentication on: one account for the front door and one per team
    of the directory (FRONTDOOR_TEAMS_FILE). Passwords already in DIR are kept; teams no longer in the directory
    lose theirs. Set FRONTDOOR_NATS_URL to the contents of DIR/frontdoor.url."""
    settings = _settings()
    folder = Path(out)
    try:
        teams = load_teams(settings.teams_file)
        write_config(folder, [t.id for t in teams.teams], host=host, port=port, rotate=rotate or ())
    except (NatsConfigError, TeamDirectoryError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"wrote {folder / 'nats-server.conf'} (run: nats-server -c {folder / 'nats-server.conf'}); "
               f"FRONTDOOR_NATS_URL is in {folder / 'frontdoor.url'}", err=True)


def team_credentials(
    team: Annotated[str, typer.Argument(help="The team id, as in the directory")],
    config: Annotated[str | None, typer.Option(help="The folder `frontdoor nats-config` wrote (default: the data "
                                                    "dir's embedded server configuration)", metavar="DIR")] = None,
) -> None:
    """Print the NATS URL with TEAM's credentials (one line). A team client also sets the inbox prefix
    `_INBOX_<team>` and the JetStream API prefix `frontdoor.api` (see docs/OPERATIONS.md)."""
    folder = Path(config) if config else _settings().resolved_data_dir() / "nats"
    try:
        typer.echo(team_url(folder, team))
    except (NatsConfigError, OSError) as exc:
        _fail(str(exc))


def register(app: typer.Typer) -> None:
    app.command("nats-config")(nats_config)
    app.command("team-credentials")(team_credentials)


def port_in_use(host: str, port: int) -> bool:
    """Whether `serve` could not listen on host:port (a second `serve` of one data directory, usually)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: connections of a server that just stopped (TIME_WAIT) do not make the port busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
