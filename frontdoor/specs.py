"""The machine-readable contracts: OpenAPI for HTTP, AsyncAPI for NATS (team feeds and team commands).
`frontdoor spec` writes them to docs/; a test keeps the committed copies in step with the code."""

from __future__ import annotations

import json
from typing import Any, cast

from frontdoor.asyncapi import asyncapi_document
from frontdoor.services import Services
from frontdoor.web import create_web_app

__all__ = ["asyncapi_document", "openapi_document", "render"]


def openapi_document() -> dict[str, Any]:
    # Generating the document touches no service: the routes only reach them when called.
    return create_web_app(cast(Services, None)).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
