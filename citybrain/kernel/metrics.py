"""Every Prometheus metric of the project, declared once (prefix citybrain_)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_INGESTED = Counter(
    "citybrain_events_ingested_total", "Events stored (first delivery only)", ["family"]
)
EVENTS_DUPLICATE = Counter(
    "citybrain_events_duplicate_total", "Events delivered again and not stored twice", ["family"]
)
DEAD_LETTERED = Counter(
    "citybrain_dead_lettered_total", "Messages or envelope items sent to the dead-letter topic",
    ["family"],
)
MESSAGES_SKIPPED = Counter(
    "citybrain_messages_replayed_total", "Messages below the applied offset, skipped on replay",
    ["family"],
)
BATCH_WRITE_SECONDS = Histogram(
    "citybrain_batch_write_seconds", "Time to commit one batch to the database", ["family"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_RETRIES = Counter(
    "citybrain_db_retries_total", "Batch writes retried because the database was unreachable",
    ["family"],
)
STATE_CHANGES = Counter(
    "citybrain_state_changes_total", "Asset liveness transitions", ["feed", "state"]
)
LIVENESS_LATE_EVENTS = Counter(
    "citybrain_liveness_late_events_total",
    "Liveness evidence stored but not folded: it arrived beyond the lateness bound", ["feed"]
)

# -- Consumer lag (sampled by each worker from its faust consumer; streams/lag.py) ------------
CONSUMER_LAG = Gauge(
    "citybrain_consumer_lag_messages",
    "Messages in an assigned partition not yet fetched: highwater − position",
    ["topic", "partition"],
)
LAG_SAMPLED_AT = Gauge(
    "citybrain_consumer_lag_sampled_timestamp_seconds",
    "When this worker last sampled its consumer lag (Unix time)",
)

# -- Notifications (incremented by the alerting code, alerts/) --------------------------------
# channel: the notifier's channel (webhook, wecom, dingtalk, feishu, email, ...).
NOTIFICATIONS_SENT = Counter(
    "citybrain_notifications_sent_total", "Notifications delivered (after any retries)", ["channel"]
)
# outcome: "rejected" (the receiver refused it, e.g. a 4xx: not retried) or "exhausted"
# (retryable failures — 5xx, time-outs, connection errors — until the retries ran out).
NOTIFICATIONS_FAILED = Counter(
    "citybrain_notifications_failed_total", "Notifications that were not delivered", ["channel", "outcome"]
)
NOTIFICATION_OUTCOMES = ("rejected", "exhausted")


def count_notification(channel: str, *, delivered: bool, retryable: bool) -> None:
    """Count one notification's final outcome (call once per notification, after retries)."""
    if delivered:
        NOTIFICATIONS_SENT.labels(channel).inc()
    else:
        NOTIFICATIONS_FAILED.labels(channel, "exhausted" if retryable else "rejected").inc()


# -- Read from the database at scrape time (dashboards/metrics_store.py) ----------------------
# Declared here by name so the whole metric vocabulary is in this one module; the values
# come from a custom collector, not from these constants.
STORE_METRICS: dict[str, str] = {
    "citybrain_assets": "Registered, unretired assets by key and current liveness state",
    "citybrain_open_incidents": "Incidents not yet resolved, by severity and status",
    "citybrain_incidents_response_overdue": "Open incidents unacknowledged past their response deadline",
    "citybrain_sla_breaches_total": "SLA breaches recorded, by kind (response/resolution) and severity",
    "citybrain_escalation_overdue_seconds": "How late the most overdue escalation step of a "
                                            "triggered incident is (0 when none is due)",
    "citybrain_ingest_last_commit_timestamp_seconds": "Last batch committed per topic (Unix time)",
    "citybrain_feed_watermark_timestamp_seconds": "Last event time the liveness derivation folded "
                                                  "per feed (Unix time)",
    "citybrain_store_scrape_error": "1 when the last scrape could not read the database",
    "citybrain_store_scrape_duration_seconds": "Time the database queries of the last scrape took",
}
