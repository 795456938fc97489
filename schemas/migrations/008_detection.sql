-- Alert detection's own state (alerts/noise.py, `citybrain alerter`).
--
-- Assets marked flapping (more than N liveness changes within M minutes): one row per
-- episode, open while cleared_at IS NULL. The alerter writes a row when it marks an asset
-- and clears it when the asset was stable long enough; it restores open marks when it
-- restarts, and dashboards can show which assets flap. Times are event time, UTC.
CREATE TABLE asset_flapping (
    asset_id    text NOT NULL,
    marked_at   timestamptz NOT NULL,     -- event time of the change that made it flapping
    changes     integer NOT NULL,         -- changes counted when marked (or when cleared)
    cleared_at  timestamptz,              -- when it became stable
    PRIMARY KEY (asset_id, marked_at)
);
CREATE UNIQUE INDEX asset_flapping_open ON asset_flapping (asset_id) WHERE cleared_at IS NULL;
