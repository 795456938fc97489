"""The FastAPI application: one pool, the routers, OpenAPI at /docs and /openapi.json.

Every request passes ``language.RequestLanguage`` first (its ``Accept-Language``, else
CITYBRAIN_LANGUAGE, is the language its error messages are written in), then
``limits.RequestGuard`` (body size, unusable characters), and gets its errors in the one
shape of ``errors``. The pool's connections carry the API's
limits on database work (statement time-out, temporary disk), so no request — whatever
its token — can hold a connection or fill the server's disk for long.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import Depends, FastAPI
from psycopg_pool import ConnectionPool

import citybrain
from alerts.incidents import api as incidents
from alerts.maintenance import api as maintenance
from citybrain.api import docs
from citybrain.assessments import api as assessments
from citybrain.console import router as console
from citybrain.kernel import store
from citybrain.kernel.clock import Clock
from citybrain.kernel.http import access, access_log, errors
from citybrain.kernel.http.language import RequestLanguage
from citybrain.kernel.http.limits import RequestGuard
from citybrain.kernel.settings import Settings
from citybrain.reports import api as reports
from citybrain.reports import api_indicators as indicators
from dashboards.metrics_server import metrics_router

log = logging.getLogger("citybrain.api")


def session_options(settings: Settings, database_url: str) -> str:
    """The libpq ``options`` of the API's connections: its schema and its limits. A report's
    parallel connections copy them (``engine.snapshot_connections``), limits included."""
    timeout_ms = max(1, round(settings.api_statement_timeout_seconds * 1000))
    options = [f"-c search_path={settings.database_schema}", f"-c statement_timeout={timeout_ms}"]
    limit = f"{settings.api_temp_file_limit_mb}MB"
    # temp_file_limit is a superuser setting: a role that may not set it would fail every
    # connection with it in its options, so it is tried once on its own first.
    try:
        with psycopg.connect(database_url, autocommit=True) as probe:
            probe.execute(f"SET temp_file_limit = '{limit}'")
        options.append(f"-c temp_file_limit={limit}")
    except psycopg.errors.InsufficientPrivilege:
        with psycopg.connect(database_url, autocommit=True) as probe:
            row = probe.execute("SELECT current_user, current_setting('temp_file_limit')").fetchone()
        role, current = row if row is not None else ("citybrain", "-1")
        log.warning("the database role %s may not set temp_file_limit, so the API's queries may write "
                    "temporary files up to %s (-1: no limit) instead of %s; grant it with GRANT SET ON "
                    "PARAMETER temp_file_limit TO %s (PostgreSQL 15+) or set it for the role: ALTER ROLE "
                    "%s SET temp_file_limit = '%s'", role, current, limit, role, role, limit)
    return " ".join(options)


def create_app(settings: Settings, database_url: str,
               clock: Clock | None = None) -> FastAPI:
    """The API over ``database_url``; ``clock`` replaces the wall clock (tests freeze it)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            database_url,
            kwargs={"options": session_options(settings, database_url)},
            configure=store.extension_on_path,  # as store.connect does
            min_size=1, max_size=settings.api_pool_size, open=False,
            # A request waits this long for a connection, then gets a 503 (errors.py).
            timeout=settings.api_pool_timeout_seconds,
        )
        pool.open(wait=True, timeout=30)
        app.state.pool = pool
        access_log.install()  # uvicorn has configured its loggers by now
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="Citybrain",
        version=citybrain.__version__,
        description="Five-key indicators, evaluators' reports and the 30-minute incident workflow. "
                    "Every request needs `Authorization: Bearer <token>` "
                    "(`citybrain tokens create --role ...`).\n\n"
                    "Error messages (`detail`, and the `msg` of a 422's problems) are in the request's "
                    "language: `Accept-Language` when it names Chinese (`zh`, `zh-CN`) or English "
                    "(`en`), q-values respected, else the server's CITYBRAIN_LANGUAGE (zh-CN unless "
                    "set). Ids, field names, a problem's `type` and every JSON key are the same in "
                    "every language.",
        lifespan=lifespan,
        # /docs is served with Swagger UI's files from this server (docs.py), not a CDN.
        docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    if clock is not None:
        app.state.clock = clock
    errors.install(app)
    # The routes that take evidence files accept them (base64 in JSON, or a form's files).
    with_files = settings.assessment_evidence_max_bytes * 4 // 3 + settings.api_max_body_bytes
    app.add_middleware(RequestGuard, max_body_bytes=settings.api_max_body_bytes,
                       larger={"/api/v1/assessments": with_files,
                               "/console/evaluation/assessments": with_files})
    # Added last, so outermost: the guard's refusals are in the request's language too.
    app.add_middleware(RequestLanguage, default=settings.language)
    for router in (indicators.router, reports.router, incidents.router, maintenance.router,
                   assessments.router):
        app.include_router(router, prefix="/api/v1", responses=errors.ERROR_RESPONSES)
    # The API's port is published: /metrics there needs a city-wide operator or admin
    # token; Prometheus scrapes the same figures on the internal metrics port
    # (CITYBRAIN_METRICS_PORT, `citybrain api`).
    app.include_router(metrics_router(settings, database_url, **({"clock": clock} if clock else {})),
                       dependencies=[Depends(access.caller)])

    app.include_router(docs.router)
    console.mount(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    access.check_routes(app)  # every route has its row in the access table
    return app
