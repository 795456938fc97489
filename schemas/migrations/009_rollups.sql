-- Hourly rollups of the probe and cloud-usage readings, so the 30-day indicator report
-- reads one row per (asset, hour) instead of every raw reading.
--
-- Maintained exactly once at ingest: streams/sink.py adds the rows its INSERT ... ON
-- CONFLICT DO NOTHING actually stored (RETURNING gives them; duplicates are not returned)
-- into these tables in the same statement, hence the same transaction as the rows and
-- the applied offsets. streams/rollups.py rebuilds any range of hours from the raw
-- tables (back-fills, rows COPYed in directly); this migration back-fills what is stored.
--
-- hour is the UTC hour start. The indicator SQL reads whole hours from here and
-- completes from raw rows the hours a window edge, a local midnight or an asset's
-- registration or retirement cuts, so every sum stays exact.
--
-- Latency histogram: fixed log-spaced buckets, bucket b = [0.1 ms × 1.025^b,
-- 0.1 ms × 1.025^(b+1)), b = 0..632 (0.1 ms to 600 s; smaller values land in bucket 0,
-- larger ones in bucket 632). Stored sparse: latency_buckets[i] holds latency_counts[i]
-- samples, buckets ascending. Only successful probes with a latency are counted, as the
-- p95 indicators read them; latency_min/latency_max are exact.

CREATE FUNCTION latency_bucket(ms double precision) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN least(632, greatest(0, floor(ln(greatest(ms, 0.1) / 0.1) / ln(1.025))))::smallint;

-- The lower bound (ms) of bucket b; the upper bound is latency_bucket_floor(b + 1).
CREATE FUNCTION latency_bucket_floor(b integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 0.1 * power(1.025::double precision, b);

CREATE TABLE probe_hourly (
    hour             timestamptz NOT NULL,
    asset_id         text NOT NULL,
    target_kind      text NOT NULL,
    probes           bigint NOT NULL,
    ok_probes        bigint NOT NULL,
    -- over the probes that report packets (packets_sent > 0), as packet loss counts them
    packets_sent     bigint NOT NULL,
    packets_lost     bigint NOT NULL,
    -- over the successful probes with a latency
    latency_count    bigint NOT NULL,
    latency_sum      double precision NOT NULL,
    latency_min      real,
    latency_max      real,
    latency_buckets  smallint[] NOT NULL,
    latency_counts   integer[] NOT NULL,
    PRIMARY KEY (hour, asset_id, target_kind),
    CHECK (cardinality(latency_buckets) = cardinality(latency_counts))
);

-- Usage samples (kind 'usage') per host and hour; a sum is NULL while no sample of the
-- hour carried that resource, as sum() over the raw rows would be.
CREATE TABLE cloud_hourly (
    hour               timestamptz NOT NULL,
    asset_id           text NOT NULL,
    samples            bigint NOT NULL,
    cpu_used_sum       double precision,
    cpu_alloc_sum      double precision,
    mem_used_sum       double precision,
    mem_alloc_sum      double precision,
    storage_used_sum   double precision,
    storage_alloc_sum  double precision,
    PRIMARY KEY (hour, asset_id)
);

-- Back-fill from the rows already stored (the same aggregation as streams/rollups.py).
INSERT INTO probe_hourly (hour, asset_id, target_kind, probes, ok_probes, packets_sent, packets_lost,
                          latency_count, latency_sum, latency_min, latency_max,
                          latency_buckets, latency_counts)
SELECT hour, asset_id, target_kind, sum(probes), sum(ok_probes), sum(packets_sent), sum(packets_lost),
       sum(latency_count), coalesce(sum(latency_sum), 0), min(latency_min), max(latency_max),
       coalesce(array_agg(b ORDER BY b) FILTER (WHERE b IS NOT NULL), '{}'),
       coalesce(array_agg(latency_count ORDER BY b) FILTER (WHERE b IS NOT NULL), '{}')
FROM (SELECT date_bin('1 hour', occurred_at, '2000-01-01 00:00+00') AS hour, asset_id, target_kind,
             CASE WHEN ok AND latency_ms IS NOT NULL THEN latency_bucket(latency_ms) END AS b,
             count(*) AS probes, count(*) FILTER (WHERE ok) AS ok_probes,
             coalesce(sum(packets_sent) FILTER (WHERE packets_sent > 0), 0) AS packets_sent,
             coalesce(sum(packets_lost) FILTER (WHERE packets_sent > 0), 0) AS packets_lost,
             count(latency_ms) FILTER (WHERE ok) AS latency_count,
             sum(latency_ms::float8) FILTER (WHERE ok) AS latency_sum,
             min(latency_ms) FILTER (WHERE ok) AS latency_min,
             max(latency_ms) FILTER (WHERE ok) AS latency_max
      FROM probe_events
      GROUP BY 1, 2, 3, 4) per_bucket
GROUP BY hour, asset_id, target_kind;

INSERT INTO cloud_hourly (hour, asset_id, samples, cpu_used_sum, cpu_alloc_sum, mem_used_sum,
                          mem_alloc_sum, storage_used_sum, storage_alloc_sum)
SELECT date_bin('1 hour', occurred_at, '2000-01-01 00:00+00'), asset_id, count(*),
       sum(cpu_used_cores::float8), sum(cpu_alloc_cores::float8), sum(mem_used_gb::float8),
       sum(mem_alloc_gb::float8), sum(storage_used_gb::float8), sum(storage_alloc_gb::float8)
FROM cloud_events
WHERE kind = 'usage'
GROUP BY 1, 2;
