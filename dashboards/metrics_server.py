"""Serving /metrics: a port of its own for workers (and the alerter), a route for the API.

Workers expose their own process's metrics (events ingested, dead letters, batch write
latency, consumer lag, ...); each is scraped as one target of a scalable job. The API
additionally exposes the figures read from the database (``dashboards.metrics_store``),
once for the whole platform rather than once per worker.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from citybrain.kernel.clock import Clock, utc_now
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings
from dashboards.metrics_store import StoreCollector

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current


def serve_process_metrics(settings: Settings, registry: CollectorRegistry = REGISTRY) -> None:
    """Start the /metrics HTTP server of this process (a daemon thread); port 0 = off.
    The API passes its ``platform_registry``: Prometheus scrapes it there, on a port kept
    internal, while the API's published port asks a token for the same figures."""
    from prometheus_client import start_http_server

    if not settings.metrics_port:
        return
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    except OSError as exc:
        raise CitybrainError(_(
            "cannot serve metrics on {address} ({error}); another process holds the port: give "
            "each worker on this host its own CITYBRAIN_METRICS_PORT, or set it to 0 to turn "
            "metrics off").format(address=f"{settings.metrics_host}:{settings.metrics_port}",
                                  error=exc)) from exc


class _Both(Collector):
    """The process's registry followed by the database figures, in one exposition."""

    def __init__(self, *parts: Collector) -> None:
        self._parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self._parts:
            yield from part.collect()


def platform_registry(settings: Settings, database_url: str, *,
                      clock: Clock = utc_now) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    store = StoreCollector(database_url, settings.database_schema,
                           timeout_seconds=settings.metrics_db_timeout_seconds, clock=clock)
    registry.register(_Both(REGISTRY, store))
    return registry


def metrics_router(settings: Settings, database_url: str, *,
                   clock: Clock = utc_now) -> APIRouter:
    """``GET /metrics`` for the API (the app admits it by its access table: a token).

    A plain ``def`` route: FastAPI runs it in its thread pool, so the database reads of a
    scrape never block the event loop.
    """
    registry = platform_registry(settings, database_url, clock=clock)
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
