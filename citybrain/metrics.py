"""Every Prometheus metric of the project, declared once (prefix citybrain_)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
