"""The committed OpenAPI and AsyncAPI documents (docs/) match the code: other systems are built against them."""

from __future__ import annotations

from pathlib import Path

from frontdoor.specs import asyncapi_document, openapi_document, render

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_openapi_json_is_up_to_date() -> None:
    assert (DOCS / "openapi.json").read_text() == render(openapi_document()), "run `frontdoor spec`"


def test_docs_asyncapi_json_is_up_to_date() -> None:
    assert (DOCS / "asyncapi.json").read_text() == render(asyncapi_document()), "run `frontdoor spec`"


def test_every_route_of_the_design_is_in_the_openapi_document() -> None:
    paths = openapi_document()["paths"]
    for method, path in [("get", "/health"), ("post", "/residents"), ("get", "/residents"),
                         ("get", "/residents/{resident_id}"), ("post", "/residents/{resident_id}/contacts"),
                         ("post", "/referrals/{referral_id}/handoff"), ("get", "/flags"),
                         ("post", "/flags/{flag_id}/resolve"), ("get", "/teams/{team_id}/caseload")]:
        assert method in paths[path], (method, path)


def test_the_asyncapi_document_has_a_schema_for_every_command_reply_and_feed_event() -> None:
    from events.catalogue import CARE_EVENTS
    from frontdoor.team_messages import COMMANDS

    document = asyncapi_document()
    schemas = document["components"]["schemas"]
    addresses = {c["address"] for c in document["channels"].values()}
    for command in COMMANDS:
        assert f"cmd.{{team_id}}.{command}" in addresses, command
    assert {"start-assessment", "complete-assessment"} <= set(COMMANDS)
    for name in ("CommandDone", "CommandProblem", "FeedMessage", "StartAssessmentCommand",
                 "CompleteAssessmentCommand"):
        assert schemas[name].get("properties"), name  # a real schema, not null or {}
    for event in CARE_EVENTS:
        assert schemas[f"{event.type_name()}FeedData"]["properties"], event
    assert set(schemas["FeedActor"]["properties"]) == {"role", "team_id"}
    assert "causation_id" not in schemas["FeedMessage"]["properties"]


async def test_the_service_serves_the_asyncapi_document() -> None:
    from typing import cast

    import httpx

    from frontdoor.services import Services
    from frontdoor.web import create_web_app

    transport = httpx.ASGITransport(app=create_web_app(cast(Services, None)))
    async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor") as http:
        answer = await http.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.json() == asyncapi_document()
