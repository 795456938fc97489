-- data.freshness_rate, version 2: data update timeliness (数据更新及时率).
-- Datasets kept fresh throughout their scope in W / catalogued datasets in the register
-- during W. Scope: W ∩ [registered_at, retired_at) ∩ [F, ∞), where F is the first data
-- event the platform stored (any dataset, any action, whatever the department asked
-- for): before F the platform had no evidence about any dataset, so that time is judged
-- for none. A dataset whose scope is empty is not counted; a window wholly before F (or a
-- store without data events) reports no data.
-- Fresh at time t: an update (data event with action 'updated') or the dataset's watch
-- start (the later of its registration and F) happened in (t − cadence, t], where cadence
-- is the declared update interval (expected_interval_s; a dataset without one is taken as
-- daily). So the dataset is stale from cadence after each update (or after its watch
-- start) until the next one, and fresh in W when no stale time falls in its scope. Updates
-- up to one cadence before W count, so the first hours of W are judged on the update
-- before it; a dataset first watched gets one full cadence (as the dataset-stale alert).
-- Day (local midnights in tz): datasets in the register that day, and those with no
-- stale time in that day's part of their scope.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value in percent;
-- numerator = fresh datasets; denominator = catalogued datasets; adjusted_value and
-- unknown_share NULL). No dataset in scope: value NULL.
WITH days AS MATERIALIZED (
    SELECT d::date AS day,
           tstzrange(greatest(%(start)s::timestamptz, local_midnight(d::date, %(tz)s::text)),
                     least(%(end)s::timestamptz, local_midnight(d::date + 1, %(tz)s::text))) AS span
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
feed AS MATERIALIZED (
    -- F: the first data event stored (the time index's first entry; NULL: none yet).
    SELECT min(occurred_at) AS since FROM data_events
),
datasets AS MATERIALIZED (
    SELECT a.asset_id, a.department_id,
           greatest(a.registered_at, f.since) AS watched_from,
           coalesce(a.expected_interval_s, 86400) * interval '1 second' AS cadence,
           tstzrange(greatest(a.registered_at, f.since, %(start)s::timestamptz),
                     least(a.retired_at, %(end)s::timestamptz)) AS scope
    FROM assets a
    CROSS JOIN feed f
    WHERE a.kind = 'dataset'
      AND f.since < %(end)s::timestamptz
      AND a.registered_at < %(end)s::timestamptz
      AND (a.retired_at IS NULL
           OR a.retired_at > greatest(a.registered_at, f.since, %(start)s::timestamptz))
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
points AS (
    -- The moments that make a dataset fresh: its watch start and its updates from one
    -- cadence before its scope to the scope's end. The registry caps cadences at 7 days,
    -- which bounds the scan of data_events by its time index.
    SELECT ds.asset_id, ds.watched_from AS at FROM datasets ds
    UNION
    SELECT ds.asset_id, e.occurred_at
    FROM data_events e
    JOIN datasets ds ON ds.asset_id = e.asset_id
    WHERE e.occurred_at >= %(start)s::timestamptz - interval '7 days'
      AND e.occurred_at < %(end)s::timestamptz
      AND e.action = 'updated'
      AND e.occurred_at >= lower(ds.scope) - ds.cadence AND e.occurred_at < upper(ds.scope)
),
stale AS (
    -- Per dataset: [point + cadence, next point) wherever that is not empty, clipped to
    -- the scope; after the last point, stale from point + cadence on.
    SELECT g.asset_id, range_agg(g.gap * ds.scope) AS stale
    FROM (SELECT p.asset_id,
                 CASE WHEN p.next_at IS NULL OR p.next_at > p.at + ds.cadence
                      THEN tstzrange(p.at + ds.cadence, p.next_at) END AS gap
          FROM (SELECT asset_id, at, lead(at) OVER (PARTITION BY asset_id ORDER BY at) AS next_at
                FROM points) p
          JOIN datasets ds ON ds.asset_id = p.asset_id) g
    JOIN datasets ds ON ds.asset_id = g.asset_id
    WHERE g.gap IS NOT NULL
    GROUP BY g.asset_id
),
judged AS MATERIALIZED (
    SELECT ds.asset_id, ds.department_id, ds.scope, coalesce(s.stale, '{}') AS stale
    FROM datasets ds
    LEFT JOIN stale s ON s.asset_id = ds.asset_id
),
by_group AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id END AS member,
           count(*) FILTER (WHERE isempty(stale)) AS fresh, count(*) AS catalogued
    FROM judged
    GROUP BY GROUPING SETS ((), (department_id))
),
by_day AS (
    SELECT 'day' AS dimension, d.day::text AS member,
           count(j.asset_id) FILTER (WHERE NOT (j.stale && (j.scope * d.span))) AS fresh,
           count(j.asset_id) AS catalogued
    FROM days d
    LEFT JOIN judged j ON j.scope && d.span
    GROUP BY d.day
)
SELECT dimension, member,
       CASE WHEN catalogued > 0 THEN 100.0 * fresh / catalogued END::float8 AS value,
       fresh::float8 AS numerator,
       catalogued::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM (SELECT * FROM by_group UNION ALL SELECT * FROM by_day) f
ORDER BY dimension, member
