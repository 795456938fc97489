-- Per asset and local day, the latency samples per coarse bucket in one row, so the first
-- pass of a 30-day p95 (portal.response_time_p95, infra.latency_p95) sums one row per
-- asset and day (40 counts as columns) instead of one row per non-empty coarse bucket
-- (about 11 per asset and day: 163,000 rows for 500 portals over 30 days; issue #3).
-- Also three indexes on assets for lookups every report makes (at the end).
--
-- probe_latency_coarse holds, per (target_kind, day, asset_id), what probe_latency_daily
-- (migration 011) holds per coarse bucket, summed: n = samples, lo and hi = their exact
-- min and max, counts[c + 1] = the samples of coarse bucket c (0..39; latency_bucket is
-- 0..632, c = b / 16), which is probe_latency_daily's n of that row. Same days (rollup
-- zone), same samples (successful probes with a latency), kept the same way:
-- streams/sink.py adds the rows its INSERT stored in the same statement, and
-- streams/rollups.py `rebuild` and `set_zone` recompute them from the raw rows.
--
-- The p95's second pass then reads the fine counts of only the few coarse buckets some
-- group's rank falls in, over the window's days: probe_latency_daily's key starts with
-- the coarse bucket for that (the same columns, so the sink's ON CONFLICT still infers it).

-- The dense counts 0..size-1 from sparse (index, count) pairs; an index given twice adds.
-- (migration 011's latency_fine is this with size 16)
CREATE FUNCTION latency_dense(idx integer[], cnt bigint[], size integer) RETURNS integer[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT coalesce(sum(u.n), 0)::integer
                 FROM generate_series(0, size - 1) g(i) LEFT JOIN unnest(idx, cnt) u(i, n) ON u.i = g.i
                 GROUP BY g.i ORDER BY g.i);

CREATE TABLE probe_latency_coarse (
    day          date NOT NULL,      -- (occurred_at AT TIME ZONE rollup_zone.tz)::date
    target_kind  text NOT NULL,
    asset_id     text NOT NULL,
    n            integer NOT NULL,   -- samples (= sum of counts)
    lo           real NOT NULL,      -- exact min latency_ms
    hi           real NOT NULL,      -- exact max latency_ms
    counts       integer[] NOT NULL, -- 40 counts; counts[c + 1] = samples in coarse bucket c
    PRIMARY KEY (target_kind, day, asset_id),
    CHECK (cardinality(counts) = 40)
);

-- Back-fill from the daily histograms already stored (the same samples, summed).
INSERT INTO probe_latency_coarse (day, target_kind, asset_id, n, lo, hi, counts)
SELECT day, target_kind, asset_id, sum(n)::integer, min(lo), max(hi),
       latency_dense(array_agg(coarse::integer), array_agg(n::bigint), 40)
FROM probe_latency_daily
GROUP BY day, target_kind, asset_id;

ALTER TABLE probe_latency_daily
    DROP CONSTRAINT probe_latency_daily_pkey,
    ADD CONSTRAINT probe_latency_daily_pkey PRIMARY KEY (target_kind, coarse, day, asset_id);

-- Lookups every report makes in the register, by index instead of a pass over every
-- asset (114,500 in the report benchmark) per query: the assets registered or retired
-- inside the window (the daily paths of the indicators read their cut days from finer
-- rows), and the assets of one kind (10,000 cameras, 500 portals).
CREATE INDEX assets_registered_idx ON assets (registered_at);
CREATE INDEX assets_retired_idx ON assets (retired_at) WHERE retired_at IS NOT NULL;
CREATE INDEX assets_kind_idx ON assets (kind);
