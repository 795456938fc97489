"""One domain router in a FastAPI app of its own, for tests that call it through TestClient.

What ``citybrain.api.app.create_app`` gives every route and these tests need: a small
connection pool on the test's schema (opened and closed with the app), the settings and
a clock on ``app.state``; optionally the API's error answers and the per-request
language, for tests that check those as create_app installs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI
from psycopg_pool import ConnectionPool

from citybrain.kernel.http import errors
from citybrain.kernel.http.language import RequestLanguage
from citybrain.kernel.settings import Settings


def router_app(database_url: str, settings: Settings, router: APIRouter,
               clock: Callable[[], datetime], *, error_answers: bool = False,
               request_language: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            database_url, kwargs={"options": f"-c search_path={settings.database_schema}"},
            min_size=1, max_size=2, open=False)
        pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = clock
    if error_answers:
        errors.install(app)   # the API's error answers: never echoing the request
    if request_language:
        app.add_middleware(RequestLanguage, default=settings.language)   # as create_app does
    app.include_router(router, prefix="/api/v1")
    return app
