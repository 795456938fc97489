"""Rendering a console page: the templates, the language, the times, the headers.

A page is rendered in the reader's language (``language_of_request``: the language the
reader picked, kept in a cookie, else the request's ``Accept-Language``, else
CITYBRAIN_LANGUAGE); its times are local times of the city's zone (``Settings.tz``),
always with the zone named. Every page is sent with headers that keep it out of caches
and frames and allow only the console's own script and style
(``Content-Security-Policy``), so injected markup could neither load nor run anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse

from citybrain.kernel.http.deps import now as request_now
from citybrain.kernel.i18n import LANGUAGES, N_, Catalogue, Language, current_language, language_of
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
LANGUAGE_COOKIE = "citybrain_lang"
PREFIX = "/console"

ROLE_LABELS: Mapping[str, str] = {"operator": N_("operator"), "oncall": N_("on call"),
                                  "evaluator": N_("evaluator"), "admin": N_("admin")}

HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    # same-origin, not no-referrer: a browser sends "Origin: null" with a form under
    # no-referrer, and the forms' same-origin check needs the real origin; other sites still
    # get no Referer (a link's signature never leaves this server in one).
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
}


def settings_of(request: Request) -> Settings:
    """The app's settings (``create_app`` puts them on ``app.state``)."""
    value: Settings = request.app.state.settings
    return value


def language_of_request(request: Request) -> Language:
    picked = request.cookies.get(LANGUAGE_COOKIE)
    if picked in LANGUAGES:
        return language_of(picked)
    return current_language()   # RequestLanguage made Accept-Language's (or the server's) current


@cache
def environment(language: Language) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("citybrain.console", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    t = MESSAGES.translator(language)
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    env.globals["role_label"] = lambda role: t.gettext(ROLE_LABELS.get(role, role))
    return env


def local_time(value: datetime | None, settings: Settings, language: Language, *,
               seconds: bool = False) -> str:
    """A stored UTC time as the city's local time, with the zone: ``2026-12-07 09:05 CST``."""
    if value is None:
        return "—"
    local = value.astimezone(settings.tz)
    pattern = "yyyy-MM-dd HH:mm:ss" if seconds else "yyyy-MM-dd HH:mm"
    return f"{format_datetime(local, pattern, locale=language.replace('-', '_'))} {local.tzname()}"


def static_version() -> str:
    """A digest of the static files, in their URLs, so a browser never runs an old script."""
    import hashlib

    h = hashlib.sha256()
    for name in ("console.css", "console.js"):
        h.update(resources.files("citybrain.console").joinpath("static", name).read_bytes())
    return h.hexdigest()[:12]


_VERSION = static_version()


def render(request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200,
           headers: Mapping[str, str] | None = None) -> HTMLResponse:
    language = language_of_request(request)
    settings = settings_of(request)
    session = getattr(request.state, "console_session", None)
    page = environment(language).get_template(template).render(
        request_path=request.url.path, query=str(request.url.query), session=session,
        who=session.principal if session is not None else None,
        csrf=session.csrf if session is not None else "",
        static=f"{PREFIX}/static", static_version=_VERSION,
        languages=LANGUAGES, zone=settings.tz.key, grafana_url=settings.grafana_url,
        time=lambda value, **kw: local_time(value, settings, language, **kw),
        server_now=request_now(request).isoformat(),
        **context)
    return HTMLResponse(page, status_code=status_code, headers={**HEADERS, **(headers or {})})
