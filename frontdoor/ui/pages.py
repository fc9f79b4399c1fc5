"""The call-handler pages (server-rendered). Placeholder until the UI lands: a page that says where the API is."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index() -> str:
    return ("<!doctype html><title>frontdoor</title><h1>frontdoor</h1>"
            "<p>API documentation: <a href='/docs'>/docs</a></p>")
