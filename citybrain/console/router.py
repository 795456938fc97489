"""The console's routes, composed in one place and mounted by ``citybrain.api.app``."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException, status
from fastapi.responses import Response

from citybrain.console import admin, admin_contacts, admin_policies, admin_tokens, auth, links
from citybrain.console import evaluation as evaluation_pages
from citybrain.console import incidents as incident_pages
from citybrain.console import maintenance as maintenance_pages
from citybrain.console import overview as overview_pages
from citybrain.console import reports as reports_pages
from citybrain.console.pages import PREFIX

_STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}

static = APIRouter(include_in_schema=False)


@static.get(PREFIX + "/static/{name}")
def static_file(name: str) -> Response:
    media = _STATIC.get(name)
    if media is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    body = resources.files("citybrain.console").joinpath("static", name).read_bytes()
    # The pages name these files with a digest of their content (?v=), so caching is safe.
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400",
                                                     "X-Content-Type-Options": "nosniff"})


ROUTERS: tuple[APIRouter, ...] = (static, auth.router, reports_pages.router, evaluation_pages.router,
                                  admin.router, admin_tokens.router, admin_policies.router,
                                  admin_contacts.router,
                                  overview_pages.router, maintenance_pages.router,
                                  incident_pages.router, links.router)


def mount(app: FastAPI) -> None:
    auth.install(app)
    for router in ROUTERS:
        app.include_router(router)
