"""The machine-readable contracts: OpenAPI for HTTP, AsyncAPI for NATS (team feeds and team commands).
`frontdoor spec` writes them to docs/; a test keeps the committed copies in step with the code."""

from __future__ import annotations

import json
from typing import Any, cast

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from events.catalogue import CARE_EVENTS
from frontdoor.services import Services
from frontdoor.team_commands import team_command_broker
from frontdoor.web import create_web_app


def openapi_document() -> dict[str, Any]:
    # Generating the document touches no service: the routes only reach them when called.
    return create_web_app(cast(Services, None)).openapi()


def asyncapi_document() -> dict[str, Any]:
    broker: NatsBroker = team_command_broker(cast(Services, None), ["nats://127.0.0.1:4222"])
    broker.publisher("team.{team_id}.{event_type}", title="team.<team_id>.<EventType>",
                     description="Stream TEAMS. Each team's feed: the events of DESIGN §4 ("
                     + ", ".join(e.type_name() for e in CARE_EVENTS) + ") that the team may see, as the CARE "
                     "envelope JSON; headers Frontdoor-Type, Nats-Msg-Id '<source seq>:<team>', "
                     "Frontdoor-Source-Seq.")
    spec = AsyncAPI(broker, title="frontdoor team interface", version="0.1.0",
                    description="What team systems use over NATS: their own feed on TEAMS, and commands on "
                    "cmd.<team_id>.<accept|decline|complete|handoff> (request-reply; the reply is the result or "
                    "a problem object).")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
