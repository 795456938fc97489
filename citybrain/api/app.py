"""The FastAPI application: one pool, the routers, OpenAPI at /docs and /openapi.json."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from fastapi import FastAPI
from psycopg_pool import ConnectionPool

import citybrain
from alerts import api_incidents, api_maintenance
from citybrain import store
from citybrain.api import indicators, reports
from citybrain.metrics_server import metrics_router
from citybrain.settings import Settings


def create_app(settings: Settings, database_url: str,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The API over ``database_url``; ``clock`` replaces the wall clock (tests freeze it)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            database_url,
            kwargs={"options": f"-c search_path={settings.database_schema}"},
            configure=store.extension_on_path,  # as store.connect does
            min_size=1, max_size=settings.api_pool_size, open=False,
        )
        pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="Citybrain",
        version=citybrain.__version__,
        description="Five-key indicators, evaluators' reports and the 30-minute incident workflow. "
                    "Every request needs `Authorization: Bearer <token>` "
                    "(`citybrain tokens create --role ...`).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if clock is not None:
        app.state.clock = clock
    for router in (indicators.router, reports.router, api_incidents.router, api_maintenance.router):
        app.include_router(router, prefix="/api/v1")
    # /metrics carries no token: Prometheus scrapes it; keep the API's port internal.
    app.include_router(metrics_router(settings, database_url, **({"clock": clock} if clock else {})))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
