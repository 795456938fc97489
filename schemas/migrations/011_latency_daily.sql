-- Daily latency histograms, so a 30-day p95 (portal.response_time_p95, infra.latency_p95)
-- merges a few rows per asset and day instead of the hourly histograms, which together
-- hold about as many entries as there are raw rows.
--
-- Two levels: the fine buckets are migration 009's latency_bucket(latency_ms), 0..632;
-- coarse bucket c = b / 16 (0..39) holds n samples, their exact min and max (lo, hi) and
-- the 16 fine counts of its buckets 16c..16c+15 as a dense array (fine[i + 1] counts
-- fine bucket 16c + i). The p95 SQL sums n per coarse bucket to find the one holding the
-- rank, then reads only that bucket's 16 fine counts. Only successful probes with a
-- latency are counted, as in probe_hourly's histogram.
--
-- day is the local date in the one zone rollup_zone names ((occurred_at AT TIME ZONE
-- tz)::date; Asia/Shanghai, the city's zone, unless `citybrain db rollup --zone` changed
-- it, which rebuilds every row in the new zone). A row answers for whole local days of
-- that zone only: days a window cuts, or a report in another zone, need the hourly
-- rollups or the raw rows.
--
-- Exact like 009: streams/sink.py adds the rows its INSERT ... ON CONFLICT DO NOTHING
-- actually stored into this table in the same statement (hence the same transaction as
-- the rows and the applied offsets); streams/rollups.py `rebuild` recomputes whole
-- local days from probe_events (back-fills, rows COPYed in directly) and `set_zone`
-- recomputes all of them. This migration back-fills what is stored.

CREATE TABLE rollup_zone (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tz        text NOT NULL
);
INSERT INTO rollup_zone (tz) VALUES ('Asia/Shanghai');

CREATE TABLE probe_latency_daily (
    day          date NOT NULL,      -- (occurred_at AT TIME ZONE rollup_zone.tz)::date
    target_kind  text NOT NULL,
    asset_id     text NOT NULL,
    coarse       smallint NOT NULL,  -- latency_bucket(latency_ms) / 16
    n            integer NOT NULL,   -- samples in this coarse bucket (= sum of fine)
    lo           real NOT NULL,      -- exact min latency_ms of those samples
    hi           real NOT NULL,      -- exact max latency_ms of those samples
    fine         integer[] NOT NULL, -- 16 counts; fine[i + 1] = samples in fine bucket coarse*16 + i
    PRIMARY KEY (target_kind, day, asset_id, coarse),
    CHECK (cardinality(fine) = 16)
);

-- The dense 16 fine counts from sparse (fine index 0..15, count) pairs; an index given
-- twice adds.
CREATE FUNCTION latency_fine(idx integer[], cnt bigint[]) RETURNS integer[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT coalesce(sum(u.n), 0)::integer
                 FROM generate_series(0, 15) g(i) LEFT JOIN unnest(idx, cnt) u(i, n) ON u.i = g.i
                 GROUP BY g.i ORDER BY g.i);

-- Two fine-count arrays added element by element (both have 16 elements).
CREATE FUNCTION latency_fine_add(a integer[], b integer[]) RETURNS integer[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT x + y FROM unnest(a, b) WITH ORDINALITY u(x, y, i) ORDER BY i);

-- Back-fill from the rows already stored (the same aggregation as streams/rollups.py).
INSERT INTO probe_latency_daily (day, target_kind, asset_id, coarse, n, lo, hi, fine)
SELECT day, target_kind, asset_id, (b / 16)::smallint, sum(cnt)::integer, min(lo), max(hi),
       latency_fine(array_agg(b % 16), array_agg(cnt))
FROM (SELECT (e.occurred_at AT TIME ZONE z.tz)::date AS day, e.target_kind, e.asset_id,
             latency_bucket(e.latency_ms) AS b, count(*) AS cnt,
             min(e.latency_ms) AS lo, max(e.latency_ms) AS hi
      FROM probe_events e CROSS JOIN rollup_zone z
      WHERE e.ok AND e.latency_ms IS NOT NULL
      GROUP BY 1, 2, 3, 4) per_bucket
GROUP BY 1, 2, 3, 4;
