-- Liveness: each asset's state over time as intervals. State 'unknown' means the
-- platform had no data (an ingestion gap), which is never the device's fault;
-- 'maintenance' is filled in by maintenance windows.
CREATE TABLE asset_state (
    asset_id    text PRIMARY KEY,
    feed        text NOT NULL,            -- the family whose events prove liveness
    state       text NOT NULL CHECK (state IN ('online', 'offline', 'unknown', 'maintenance')),
    since       timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE state_intervals (
    asset_id    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('online', 'offline', 'unknown', 'maintenance')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,              -- NULL while the interval is current
    reason      text NOT NULL,
    PRIMARY KEY (asset_id, started_at),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX state_intervals_open_idx ON state_intervals (asset_id) WHERE ended_at IS NULL;
CREATE INDEX state_intervals_time_idx ON state_intervals (started_at, ended_at);

-- Per-feed watermark (largest event time processed), for ingestion gap detection
-- across restarts.
CREATE TABLE feed_watermarks (
    feed        text PRIMARY KEY,
    watermark   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
