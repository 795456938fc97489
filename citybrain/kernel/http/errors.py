"""The API's one error model, its handlers and its place in the OpenAPI document.

Every error answer is JSON ``{"detail": ...}`` — FastAPI's own shape, so clients written
against it keep working:

* ``detail`` is a sentence saying what was wrong and what to do (400, 401, 403, 404,
  409, 413, 429, 500, 503 and the 422s of the server's own checks); or
* for a 422 about the request's fields, a list of problems ``{"loc": [...], "msg": ...,
  "type": ...}``, ``loc`` naming where (``["query", "from"]``, ``["body", "steps", 0]``).

Sentences and ``msg`` are in the request's language (``language.RequestLanguage``:
``Accept-Language``, else CITYBRAIN_LANGUAGE); ``loc``, ``type`` and the keys never change.

An answer never carries a stack trace and never echoes the request back: pydantic's
``input``/``ctx`` are dropped (a 422 about a 20 MiB field would otherwise return it), and
every text is cut to ``MAX_TEXT`` characters with lone surrogates escaped (they cannot be
encoded as UTF-8). A query the database stopped at the API's limits is a 503 naming the
limit; anything unexpected is a 500 with a reference that is also in the log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import psycopg
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from starlette import routing
from starlette.exceptions import HTTPException as StarletteHTTPException

from citybrain.kernel import validation
from citybrain.kernel.errors import StoreError
from citybrain.kernel.http.language import accepted_language
from citybrain.kernel.i18n import N_, Catalogue, current_language, use_language
from citybrain.kernel.settings import Settings

log = logging.getLogger("citybrain.api")
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

MAX_TEXT = 1000   # characters of any one message or field name in an answer
MAX_PROBLEMS = 50  # problems listed in one 422


class Problem(BaseModel):
    """One field at fault."""

    loc: list[str | int] = Field(
        description='where: ["query", "from"], ["body", "steps", 0, "after_minutes"]')
    msg: str = Field(description="what is wrong with it")
    type: str = Field(description="a machine-readable kind, e.g. missing, string_too_long, value_error")


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    detail: str | list[Problem] = Field(
        description="a sentence saying what was wrong and what to do; for a 422 about the request's "
                    "fields, the list of fields at fault")


_DESCRIPTIONS = {
    400: "malformed request (e.g. a body that is not JSON where JSON is expected)",
    401: "no token, or an unknown, expired or revoked one",
    403: "the token's role or department does not allow this",
    404: "no such resource",
    409: "the resource's state does not allow this (e.g. an illegal incident transition)",
    413: "the request body is larger than CITYBRAIN_API_MAX_BODY_BYTES",
    422: "a parameter or field the server cannot use: out of its limits (e.g. a window longer than "
         "CITYBRAIN_API_MAX_WINDOW_DAYS), NUL characters, lone surrogates, Infinity/NaN, dates outside "
         "1970–2199, malformed values",
    429: "too many requests (answered by a rate-limiting proxy in front of the API, same body)",
    500: "an unexpected error; the answer carries a reference that is in the server's log",
    503: "the database stopped the work at the API's limits (statement time-out, temporary disk) "
         "or every database connection is busy; narrow the request or try again",
}
# Documented on every route (create_app passes them to each router).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in _DESCRIPTIONS.items()}
# Answered before a route runs or after it failed (the request guard, parameter
# validation, the exception handlers): JSON on every route, whatever the route answers.
_FRAMEWORK = (400, 413, 422, 429, 500, 503)


def page_responses(pages: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route answering HTML pages (``response_class=HTMLResponse``),
    in place of ``ERROR_RESPONSES``, which FastAPI would document as ``text/html`` there:
    the route's own refusals are pages (``pages``: status → what the page says); every
    other error is ``ErrorBody`` JSON, as on every route. The ``$ref`` resolves because
    every other route documents ``ErrorBody``."""
    error_body = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    page = {"schema": {"type": "string"}}
    out: dict[int | str, dict[str, Any]] = {}
    for code, text in _DESCRIPTIONS.items():
        own = pages.get(code)
        if own is None:
            out[code] = {"description": text, "content": {"application/json": error_body}}
        elif code in _FRAMEWORK:
            out[code] = {"description": f"{own} (an HTML page); or {text}",
                         "content": {"text/html": page, "application/json": error_body}}
        else:
            out[code] = {"description": own, "content": {"text/html": page}}
    return out


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, lone surrogates escaped (UTF-8 cannot carry them)."""
    cut = text if len(text) <= limit else text[:limit] + _("… ({count} more characters)").format(
        count=len(text) - limit)
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if depth > 4:
        return "…"
    if isinstance(value, Mapping):
        return {clean_text(str(k), 100): _clean(v, depth + 1) for k, v in list(value.items())[:MAX_PROBLEMS]}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value[:MAX_PROBLEMS]]
    if isinstance(value, bool | int) or value is None:
        return value
    return clean_text(str(value))


def problem(loc: list[str | int] | tuple[str | int, ...], msg: str,
            kind: str = "value_error") -> dict[str, Any]:
    return {"loc": [clean_text(p, 100) if isinstance(p, str) else p for p in loc][:20],
            "msg": clean_text(msg), "type": kind}


def error_response(code: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": _clean(detail)}, status_code=code, headers=dict(headers or {}))


def database_limit(exc: BaseException, settings: Settings) -> str | None:
    """What to tell the caller when ``exc`` (or what it wraps) is the database or the pool
    stopping work at the API's limits; None for any other error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.errors.QueryCanceled):
            if "statement timeout" in str(seen):
                return _("the database stopped the query after {seconds} s "
                         "(CITYBRAIN_API_STATEMENT_TIMEOUT_SECONDS); ask for a shorter window or one "
                         "department").format(seconds=f"{settings.api_statement_timeout_seconds:g}")
            return _("the database cancelled the query; try again")
        if isinstance(seen, psycopg.errors.ConfigurationLimitExceeded):
            return _("the query needed more than {megabytes} MB of temporary disk "
                     "(CITYBRAIN_API_TEMP_FILE_LIMIT_MB); ask for a shorter window or one department"
                     ).format(megabytes=settings.api_temp_file_limit_mb)
        if isinstance(seen, PoolTimeout):
            return _("all {count} database connections of the API stayed busy for "
                     "{seconds} s; try again shortly").format(
                count=settings.api_pool_size, seconds=f"{settings.api_pool_timeout_seconds:g}")
        seen = seen.__cause__
    return None


def unavailable(exc: BaseException, settings: Settings) -> HTTPException:
    """The 503 for a failure of the database work behind a route (a limit named when it was one)."""
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, database_limit(exc, settings) or str(exc))


def _settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method the app serves at the request's path. Starlette's 405 names the methods
    of the first route matching the path only, so ``OPTIONS /maintenance`` would say
    ``Allow: GET`` although ``POST`` is served there too. Each method is asked of the
    router's own matching, included routers and all."""
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is routing.Match.FULL
                   for route in request.app.router.routes)]


# What Starlette says by itself (the status's phrase: an unknown path, a method not
# served), in the request's language.
_PHRASES: Final[Mapping[int, str]] = {
    400: N_("Bad Request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    406: N_("Not Acceptable"),
    409: N_("Conflict"),
    413: N_("Request Entity Too Large"),
    415: N_("Unsupported Media Type"),
    422: N_("Unprocessable Content"),
    429: N_("Too Many Requests"),
    500: N_("Internal Server Error"),
    503: N_("Service Unavailable"),
}


def _phrase(code: int, detail: Any) -> Any:
    """Starlette's default detail (the status's phrase) translated; any other as it is."""
    try:
        standard = HTTPStatus(code).phrase
    except ValueError:
        return detail
    english = _PHRASES.get(code)
    if english is not None and detail in (standard, english):
        return _(english)
    return detail


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED and (allowed := allowed_methods(request)):
        headers["Allow"] = ", ".join(allowed)
    return error_response(exc.status_code, _phrase(exc.status_code, exc.detail), headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # loc, msg and type only: input and ctx would echo the request (however large).
    problems = [problem(tuple(e.get("loc", ())), validation.message(e), str(e.get("type", "value_error")))
                for e in exc.errors()[:MAX_PROBLEMS]]
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)


async def _limit(request: Request, exc: Exception) -> JSONResponse:
    message = database_limit(exc, _settings(request))
    if message is None:   # a StoreError of another kind: the database refused
        ref = uuid.uuid4().hex[:12]
        log.error("%s %s: database error [ref %s]", request.method, request.url.path, ref, exc_info=exc)
        message = _("the database could not complete the request (reference {reference} in the server's log)"
                    ).format(reference=ref)
    return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, message)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("%s %s failed [ref %s]", request.method, request.url.path, ref, exc_info=exc)
    # Starlette answers this one outside the app's middleware (RequestLanguage has left):
    # the request's language is read again here.
    configured: Settings | None = getattr(request.app.state, "settings", None)
    language = accepted_language(request.headers.get("accept-language"),
                                 configured.language if configured is not None else current_language())
    with use_language(language):
        message = _("internal error (reference {reference} in the server's log)").format(reference=ref)
    return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, message)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""
    app.add_exception_handler(StarletteHTTPException, _http)   # FastAPI's too, and routing's 404/405
    app.add_exception_handler(RequestValidationError, _validation)
    for kind in (psycopg.errors.QueryCanceled, psycopg.errors.ConfigurationLimitExceeded, PoolTimeout,
                 StoreError):
        app.add_exception_handler(kind, _limit)
    app.add_exception_handler(Exception, _unexpected)
