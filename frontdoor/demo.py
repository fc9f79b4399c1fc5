"""`serve --demo`: sign-in tokens for each role, printed so a newcomer can try the API at once."""

from __future__ import annotations

import typer

from frontdoor.api.auth import issue_token
from frontdoor.bootstrap import Services


async def load_demo(services: Services) -> None:
    secret = services.jwt_secret
    typer.echo("Demo sign-in tokens (12 hours):", err=True)
    for role, team in (("call_handler", None), ("coordinator", None), ("admin", None), ("analyst", None),
                       ("team", "dn-central")):
        label = f"{role}{'/' + team if team else ''}"
        typer.echo(f"  {label:22} {issue_token(secret, sub=f'demo-{role}', role=role, team_id=team)}", err=True)
