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
