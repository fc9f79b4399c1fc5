"""`/docs`: Swagger UI from files shipped inside the package (swagger-ui-dist 5.35.0 from npm, its licence beside
it), never from a CDN: the front door runs where the internet may not be reachable, and health data pages load
nothing from elsewhere."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
FILES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
         "favicon-32x32.png": "image/png"}


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="frontdoor API",
                               swagger_js_url="/docs/static/swagger-ui-bundle.js",
                               swagger_css_url="/docs/static/swagger-ui.css",
                               swagger_favicon_url="/docs/static/favicon-32x32.png")


@router.get("/docs/static/{name}")
async def docs_file(name: str) -> Response:
    if name not in FILES:  # only the named files: no path from the request reaches the file system
        return Response("not found", status_code=404, media_type="text/plain")
    data = resources.files("frontdoor.api").joinpath("swagger_ui", name).read_bytes()
    return Response(data, media_type=FILES[name], headers={"Cache-Control": "public, max-age=86400",
                                                          "X-Content-Type-Options": "nosniff"})
