"""Gauges read from the database at scrape time: what the platform knows, not one process.

Assets per state, open incidents, SLA breaches, overdue escalations, the last committed
batch per topic and each liveness feed's watermark live in the database; every worker
would report the same numbers, so one process (the API) serves them. Each scrape runs one
short read-only transaction bounded by ``metrics_db_timeout_seconds`` (connect and
statement time-out). When the database cannot be read the scrape still succeeds, with
``citybrain_store_scrape_error 1`` and no database figures, so Prometheus can alert on it
instead of losing the process's own metrics too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.incidents.lifecycle import OPEN_STATUSES
from citybrain.kernel.clock import Clock
from citybrain.kernel.metrics import STORE_METRICS
from dashboards.status import KEYS, STATES, UNTRACKED

log = logging.getLogger(__name__)

SEVERITIES = ("I", "II", "III", "IV")
BREACH_KINDS = ("response", "resolution")

# One round trip. Retired assets are left out; an asset the liveness derivation never saw
# has no asset_state row and counts as UNTRACKED.
_QUERIES: dict[str, str] = {
    "assets": """
        SELECT a.key, coalesce(s.state, %(untracked)s), count(*)
        FROM assets a LEFT JOIN asset_state s ON s.asset_id = a.asset_id
        WHERE a.retired_at IS NULL OR a.retired_at > %(now)s
        GROUP BY 1, 2""",
    "open_incidents": """
        SELECT severity, status, count(*) FROM incidents
        WHERE status = ANY(%(open)s) GROUP BY 1, 2""",
    "response_overdue": """
        SELECT count(*) FROM incidents
        WHERE status = 'triggered' AND acknowledged_at IS NULL AND response_due_at < %(now)s""",
    "breaches": "SELECT kind, severity, count(*) FROM sla_breaches GROUP BY 1, 2",
    "escalation": """
        SELECT coalesce(extract(epoch FROM %(now)s - min(next_escalation_at)), 0)
        FROM incidents
        WHERE status = 'triggered' AND next_escalation_at <= %(now)s""",
    "commits": "SELECT topic, extract(epoch FROM max(updated_at)) FROM ingest_offsets GROUP BY 1",
    "watermarks": "SELECT feed, extract(epoch FROM watermark) FROM feed_watermarks",
}


class StoreCollector(Collector):
    def __init__(self, database_url: str, schema: str, *, timeout_seconds: float,
                 clock: Clock) -> None:
        self._url = database_url
        self._schema = schema
        self._timeout = timeout_seconds
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        return iter(())  # values come from the database; nothing to describe up front

    def _read(self) -> dict[str, list[tuple[Any, ...]]]:
        ms = max(int(self._timeout * 1000), 1)
        with psycopg.connect(
            self._url, connect_timeout=max(int(self._timeout + 0.999), 1), autocommit=False,
            options=f"-c search_path={self._schema} -c statement_timeout={ms}"
                    f" -c default_transaction_read_only=on",
        ) as conn:
            params = {"now": self._clock(), "open": list(OPEN_STATUSES), "untracked": UNTRACKED}
            return {name: conn.execute(sql, params).fetchall() for name, sql in _QUERIES.items()}

    def collect(self) -> Iterator[Metric]:
        began = time.perf_counter()
        try:
            rows = self._read()
        except psycopg.Error as exc:
            log.warning("metrics: cannot read the database (%s); is it up and migrated?", exc)
            rows = None
        duration = GaugeMetricFamily("citybrain_store_scrape_duration_seconds",
                                     STORE_METRICS["citybrain_store_scrape_duration_seconds"])
        duration.add_metric([], time.perf_counter() - began)
        error = GaugeMetricFamily("citybrain_store_scrape_error",
                                  STORE_METRICS["citybrain_store_scrape_error"])
        error.add_metric([], 0 if rows is not None else 1)
        yield error
        yield duration
        if rows is not None:
            yield from _families(rows)


def _families(rows: dict[str, list[tuple[Any, ...]]]) -> Iterator[Metric]:
    def gauge(name: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, STORE_METRICS[name], labels=labels)

    # Every combination is emitted, zeros included: a series that vanishes when its
    # count drops to nothing would read as "no data" on a dashboard and in an alert.
    assets: dict[tuple[str, str], float] = {(k, s): 0.0 for k in KEYS for s in STATES}
    assets.update({(str(k), str(s)): float(n) for k, s, n in rows["assets"]})
    family = gauge("citybrain_assets", ["key", "state"])
    for (key, state), n in sorted(assets.items()):
        family.add_metric([key, state], n)
    yield family

    open_ = {(sev, str(st)): 0.0 for sev in SEVERITIES for st in OPEN_STATUSES}
    open_.update({(str(sev), str(st)): float(n) for sev, st, n in rows["open_incidents"]})
    family = gauge("citybrain_open_incidents", ["severity", "status"])
    for (sev, st), n in sorted(open_.items()):
        family.add_metric([sev, st], n)
    yield family

    family = gauge("citybrain_incidents_response_overdue", [])
    family.add_metric([], float(rows["response_overdue"][0][0]))
    yield family

    breaches = {(k, sev): 0.0 for k in BREACH_KINDS for sev in SEVERITIES}
    breaches.update({(str(k), str(sev)): float(n) for k, sev, n in rows["breaches"]})
    # Rows are never deleted, so the count only grows: a counter, and increase() works.
    counter = CounterMetricFamily("citybrain_sla_breaches", STORE_METRICS["citybrain_sla_breaches_total"],
                                  labels=["kind", "severity"])
    for (kind, sev), n in sorted(breaches.items()):
        counter.add_metric([kind, sev], n)
    yield counter

    family = gauge("citybrain_escalation_overdue_seconds", [])
    family.add_metric([], float(rows["escalation"][0][0]))
    yield family

    family = gauge("citybrain_ingest_last_commit_timestamp_seconds", ["topic"])
    for topic, at in sorted(rows["commits"]):
        family.add_metric([str(topic)], float(at))
    yield family

    family = gauge("citybrain_feed_watermark_timestamp_seconds", ["feed"])
    for feed, at in sorted(rows["watermarks"]):
        family.add_metric([str(feed)], float(at))
    yield family
