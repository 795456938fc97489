-- Daily sums of probe packets and cloud usage, so the 30-day packet loss and cloud
-- utilisation add one row per asset and day instead of 24 hourly ones (issue #3's report).
--
-- day is the local date in rollup_zone's zone, as in probe_latency_daily (migration 011),
-- and the rows are kept the same way: streams/sink.py adds the rows its INSERT stored in
-- the same statement; streams/rollups.py `rebuild` recomputes whole local days from the
-- raw rows and `set_zone` all of them. The columns are those of probe_hourly and
-- cloud_hourly (migration 009) that the indicators read, with the same meaning: the
-- indicator SQL takes whole days wholly inside an asset's registered life from here and
-- everything else from the hourly rollups and raw rows.

CREATE TABLE probe_daily (
    day           date NOT NULL,      -- (occurred_at AT TIME ZONE rollup_zone.tz)::date
    target_kind   text NOT NULL,
    asset_id      text NOT NULL,
    -- over the probes that report packets (packets_sent > 0), as packet loss counts them
    packets_sent  bigint NOT NULL,
    packets_lost  bigint NOT NULL,
    PRIMARY KEY (target_kind, day, asset_id)
);
CREATE INDEX probe_daily_day_idx ON probe_daily (day);

CREATE TABLE cloud_daily (
    day                date NOT NULL,  -- (occurred_at AT TIME ZONE rollup_zone.tz)::date
    asset_id           text NOT NULL,
    samples            bigint NOT NULL,
    cpu_used_sum       double precision,
    cpu_alloc_sum      double precision,
    mem_used_sum       double precision,
    mem_alloc_sum      double precision,
    storage_used_sum   double precision,
    storage_alloc_sum  double precision,
    PRIMARY KEY (day, asset_id)
);

-- Back-fill from the rows already stored (the same aggregations as streams/rollups.py).
INSERT INTO probe_daily (day, target_kind, asset_id, packets_sent, packets_lost)
SELECT (e.occurred_at AT TIME ZONE z.tz)::date, e.target_kind, e.asset_id,
       coalesce(sum(e.packets_sent) FILTER (WHERE e.packets_sent > 0), 0),
       coalesce(sum(e.packets_lost) FILTER (WHERE e.packets_sent > 0), 0)
FROM probe_events e CROSS JOIN rollup_zone z
GROUP BY 1, 2, 3;

INSERT INTO cloud_daily (day, asset_id, samples, cpu_used_sum, cpu_alloc_sum, mem_used_sum, mem_alloc_sum,
                         storage_used_sum, storage_alloc_sum)
SELECT (e.occurred_at AT TIME ZONE z.tz)::date, e.asset_id, count(*),
       sum(e.cpu_used_cores::float8), sum(e.cpu_alloc_cores::float8), sum(e.mem_used_gb::float8),
       sum(e.mem_alloc_gb::float8), sum(e.storage_used_gb::float8), sum(e.storage_alloc_gb::float8)
FROM cloud_events e CROSS JOIN rollup_zone z
WHERE e.kind = 'usage'
GROUP BY 1, 2;

-- Resource requests are a handful among millions of usage samples: the fulfilment rate
-- finds them by this partial index instead of scanning every sample of the window.
CREATE INDEX cloud_events_request_idx ON cloud_events (occurred_at) WHERE kind = 'request';
