"""``/docs``: the API's description pages with Swagger UI's own files served from here.

FastAPI's default page loads Swagger UI from a public CDN, which a government intranet
cannot reach (a blank page). The files come from the pinned ``fastapi-swagger`` package
(a Swagger UI 5 build, which reads FastAPI's OpenAPI 3.1) and are served under
``/docs/static/`` with long caching: their names change with the package's version.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

_FILES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8", "favicon-32x32.png": "image/png"}


@router.get("/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Citybrain API",
                               swagger_js_url="/docs/static/swagger-ui-bundle.js",
                               swagger_css_url="/docs/static/swagger-ui.css",
                               swagger_favicon_url="/docs/static/favicon-32x32.png")


@router.get("/docs/static/{name}")
def docs_file(name: str) -> Response:
    media = _FILES.get(name)
    if media is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    body = resources.files("fastapi_swagger.resources").joinpath(name).read_bytes()
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})
