"""`serve --demo`: a small synthetic city and sign-in tokens for each role, so a newcomer can try it at once."""

from __future__ import annotations

import typer

from frontdoor.api.auth import issue_token
from frontdoor.demo_city import write_city
from frontdoor.services import Services

DEMO_RESIDENTS = 300
DEMO_SEED = 1


async def load_demo(services: Services) -> None:
    report = await write_city(services, residents=DEMO_RESIDENTS, seed=DEMO_SEED, progress=True)
    typer.echo(f"Demo city: {report.summary()}", err=True)
    secret = services.jwt_secret
    typer.echo("Demo sign-in tokens (12 hours), paste one at the sign-in page or send as Authorization: Bearer:",
               err=True)
    for role, team in (("call_handler", None), ("coordinator", None), ("admin", None), ("analyst", None),
                       ("team", "ot-central"), ("team", "dn-central")):
        label = f"{role}{'/' + team if team else ''}"
        typer.echo(f"  {label:22} {issue_token(secret, sub=f'demo-{label}', role=role, team_id=team)}", err=True)
