-- infra.packet_loss_rate, version 2: packet loss rate (丢包率, network reliability).
-- Σ packets lost / Σ packets sent over the probe results in W that report packets
-- (packets_sent > 0; in practice the link probes), from registered assets, counted
-- while the asset is registered (registered_at ≤ occurred_at < retired_at).
-- Day: the local day (tz) of occurred_at.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'district', 'asset', 'day'; member;
-- value in percent; numerator = packets lost; denominator = packets sent;
-- adjusted_value and unknown_share NULL). No packets sent: value NULL.
--
-- Reads the hourly rollup probe_hourly (migration 009) for every UTC hour that lies
-- wholly inside W, inside the asset's registered life and on one local day; the hours
-- that a window edge, a local midnight (zones with :30/:45 offsets) or the asset's
-- registration or retirement cuts are completed from raw probe_events rows (at most a
-- few hours, read by the occurred_at index). The sums are therefore exact.
WITH midnights AS MATERIALIZED (
    -- width_bucket(t, at) = k: t lies on the window's day k (0 = the first).
    SELECT coalesce(array_agg(t ORDER BY t), '{}') AS at
    FROM (SELECT d AT TIME ZONE %(tz)s::text AS t
          FROM generate_series(
              (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              interval '1 day') AS d) m
    WHERE t > %(start)s::timestamptz AND t < %(end)s::timestamptz
),
cuts AS MATERIALIZED (
    -- The UTC hours a window edge or a local midnight cuts (read raw, for every asset).
    SELECT coalesce(array_agg(DISTINCT h), '{}') AS hours
    FROM (SELECT t, date_bin('1 hour', t, '2000-01-01 00:00+00') AS h
          FROM (SELECT unnest(m.at) AS t FROM midnights m
                UNION ALL SELECT %(start)s::timestamptz
                UNION ALL SELECT %(end)s::timestamptz) c) x
    WHERE t <> h
),
scoped AS NOT MATERIALIZED (
    SELECT a.asset_id, a.registered_at, a.retired_at
    FROM assets a
    WHERE (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
raw_hours AS MATERIALIZED (
    -- Hours read raw: the global cuts (asset_id NULL: every asset), and each asset's
    -- registration or retirement hour when it is not on a UTC hour.
    SELECT unnest(c.hours) AS h, NULL::text AS asset_id FROM cuts c
    UNION ALL
    SELECT date_bin('1 hour', x.t, '2000-01-01 00:00+00'), s.asset_id
    FROM scoped s CROSS JOIN cuts c
    CROSS JOIN LATERAL (VALUES (s.registered_at), (s.retired_at)) x(t)
    WHERE x.t > %(start)s::timestamptz AND x.t < %(end)s::timestamptz
      AND x.t <> date_bin('1 hour', x.t, '2000-01-01 00:00+00')
      AND date_bin('1 hour', x.t, '2000-01-01 00:00+00') <> ALL (c.hours)
),
per_asset_day AS (
    -- Summed per asset and day first, so the breakdowns roll up a few thousand rows.
    SELECT asset_id, k, sum(lost) AS lost, sum(sent) AS sent
    FROM (SELECT r.asset_id, width_bucket(r.hour, m.at) AS k, r.packets_lost AS lost, r.packets_sent AS sent
          FROM probe_hourly r
          JOIN scoped s ON s.asset_id = r.asset_id
          CROSS JOIN midnights m CROSS JOIN cuts c
          WHERE r.hour >= %(start)s::timestamptz AND r.hour + interval '1 hour' <= %(end)s::timestamptz
            AND r.packets_sent > 0
            AND r.hour >= s.registered_at
            AND (s.retired_at IS NULL OR r.hour + interval '1 hour' <= s.retired_at)
            AND r.hour <> ALL (c.hours)
          UNION ALL
          SELECT e.asset_id, width_bucket(e.occurred_at, m.at), e.packets_lost, e.packets_sent
          FROM raw_hours rh
          CROSS JOIN midnights m
          -- OFFSET 0 keeps this a per-hour index range scan (not flattened into a full scan).
          CROSS JOIN LATERAL (
              SELECT e.asset_id, e.occurred_at, e.packets_lost, e.packets_sent
              FROM probe_events e
              JOIN scoped s ON s.asset_id = e.asset_id
              WHERE e.occurred_at >= rh.h AND e.occurred_at < rh.h + interval '1 hour'
                AND (rh.asset_id IS NULL OR rh.asset_id = e.asset_id)
                AND e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
                AND e.packets_sent > 0
                AND e.occurred_at >= s.registered_at AND (s.retired_at IS NULL OR e.occurred_at < s.retired_at)
              OFFSET 0) e
         ) u
    GROUP BY asset_id, k
),
figures AS (
    SELECT CASE WHEN GROUPING(a.department_id) = 0 THEN 'department'
                WHEN GROUPING(a.district_id) = 0 THEN 'district'
                WHEN GROUPING(p.asset_id) = 0 THEN 'asset'
                WHEN GROUPING(p.k) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(a.department_id) = 0 THEN a.department_id
                WHEN GROUPING(a.district_id) = 0 THEN coalesce(a.district_id, '(none)')
                WHEN GROUPING(p.asset_id) = 0 THEN p.asset_id
                WHEN GROUPING(p.k) = 0
                    THEN ((%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date + p.k)::text END AS member,
           coalesce(sum(p.lost), 0) AS lost, coalesce(sum(p.sent), 0) AS sent
    FROM per_asset_day p
    JOIN assets a ON a.asset_id = p.asset_id
    GROUP BY GROUPING SETS ((), (a.department_id), (a.district_id), (p.asset_id), (p.k))
)
SELECT dimension, member,
       CASE WHEN sent > 0 THEN 100.0 * lost / sent END::float8 AS value,
       lost::float8 AS numerator,
       sent::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member
