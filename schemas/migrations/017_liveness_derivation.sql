-- Liveness derived from the stored events (streams/derivation.py), not from the order in
-- which they arrived. The derivation folds each feed's stored events in event-time order
-- up to a horizon, and folds again from a checkpoint when evidence arrives behind it.

-- Per source partition: the latest event time committed from it and when (database time),
-- written by the sink with the rows, and the partition's end offset as a worker's
-- consumer last saw it, written by that worker before each liveness step. The derivation's horizon is the slowest partition still delivering (or with
-- messages not yet stored), so a partition that is merely behind does not make its
-- assets look offline.
ALTER TABLE ingest_offsets
    ADD COLUMN IF NOT EXISTS mark      timestamptz,
    ADD COLUMN IF NOT EXISTS marked_at timestamptz,
    ADD COLUMN IF NOT EXISTS highwater bigint;

-- What each committed batch of a liveness feed added (event-time range of the rows it
-- inserted), written in the same transaction as the rows. received_at equals the rows'
-- own received_at (both now() of that transaction). The derivation reads and deletes
-- these: a range at or behind its cursor is late evidence.
CREATE TABLE IF NOT EXISTS liveness_dirty (
    id           bigserial PRIMARY KEY,
    feed         text NOT NULL,
    lo           timestamptz NOT NULL,
    hi           timestamptz NOT NULL,
    events       integer NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS liveness_dirty_feed_idx ON liveness_dirty (feed, id);

-- The derivation's exact state (the tracker, compressed) after folding every event up to
-- `at`; kept for the lateness bound, so late evidence is folded again from the latest
-- checkpoint before it.
CREATE TABLE IF NOT EXISTS liveness_checkpoints (
    feed        text NOT NULL,
    at          timestamptz NOT NULL,     -- events with occurred_at <= at are folded
    covered_to  timestamptz,              -- the last event instant folded
    feed_start  timestamptz,              -- the feed's first event instant
    tracker     bytea NOT NULL,
    coarse      boolean NOT NULL DEFAULT true,  -- the first of its 15-minute period: kept longer
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feed, at)
);

-- Evidence that arrived more than CITYBRAIN_LIVENESS_LATENESS_SECONDS behind the
-- derivation: stored with the other events, counted here and in reports, never folded
-- into the intervals (events of that batch, received_at, in [lo, frozen_at)).
CREATE TABLE IF NOT EXISTS liveness_late (
    feed         text NOT NULL,
    received_at  timestamptz NOT NULL,
    lo           timestamptz NOT NULL,
    frozen_at    timestamptz NOT NULL,
    events       bigint NOT NULL,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feed, received_at, lo)
);

-- The feed's ingestion gaps: silences of the whole feed longer than
-- CITYBRAIN_INGESTION_GAP_SECONDS, between two event instants (after_at, until_at).
CREATE TABLE IF NOT EXISTS feed_gaps (
    feed      text NOT NULL,
    after_at  timestamptz NOT NULL,
    until_at  timestamptz NOT NULL,
    PRIMARY KEY (feed, after_at)
);

-- Where the derivation stands: `cursor` (events up to it are folded), `watermark` (the
-- last event instant folded: intervals are complete up to it, the as-of of the feed),
-- `reached` (the furthest cursor ever: lateness counts from it), `feed_start` (the first
-- event instant), `origin` (the derivation began there: on an upgraded database,
-- intervals before it are kept from before the derivation).
ALTER TABLE feed_watermarks
    ADD COLUMN IF NOT EXISTS cursor     timestamptz,
    ADD COLUMN IF NOT EXISTS reached    timestamptz,
    ADD COLUMN IF NOT EXISTS feed_start timestamptz,
    ADD COLUMN IF NOT EXISTS origin     timestamptz;

-- State changes to publish on the state-change topic, written in the same transaction
-- as the intervals and deleted once the broker has them (at least once, never lost).
CREATE TABLE IF NOT EXISTS state_outbox (
    id       bigserial PRIMARY KEY,
    feed     text NOT NULL,
    asset_id text NOT NULL,
    payload  bytea NOT NULL
);
