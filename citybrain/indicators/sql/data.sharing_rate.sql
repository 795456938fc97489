-- data.sharing_rate, version 1: data sharing rate (数据共享率).
-- Catalogued datasets (kind dataset) shared with another department in W / catalogued datasets in the register
-- during W (scope W ∩ [registered_at, retired_at) not empty). A dataset counts when a
-- data event with action 'shared' falls inside its scope. Day (local midnights in
-- tz): datasets in the register that day, and those with such an event that day.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value in percent;
-- numerator = datasets shared with another department; denominator = datasets in the
-- register; adjusted_value and unknown_share NULL). No dataset in scope: value NULL.
WITH days AS MATERIALIZED (
    SELECT d::date AS day,
           greatest(%(start)s::timestamptz, local_midnight(d::date, %(tz)s::text)) AS lo,
           least(%(end)s::timestamptz, local_midnight(d::date + 1, %(tz)s::text)) AS hi
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
datasets AS MATERIALIZED (
    SELECT a.asset_id, a.department_id,
           greatest(a.registered_at, %(start)s::timestamptz) AS lo,
           least(a.retired_at, %(end)s::timestamptz) AS hi
    FROM assets a
    WHERE a.kind IN ('dataset')
      AND a.registered_at < %(end)s::timestamptz
      AND (a.retired_at IS NULL OR a.retired_at > greatest(a.registered_at, %(start)s::timestamptz))
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
hits AS (
    -- Datasets and the days on which they had the event, inside their scope.
    SELECT DISTINCT ds.asset_id, (e.occurred_at AT TIME ZONE %(tz)s::text)::date AS day
    FROM data_events e
    JOIN datasets ds ON ds.asset_id = e.asset_id
    WHERE e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
      AND e.action = 'shared'
      AND e.occurred_at >= ds.lo AND e.occurred_at < ds.hi
),
by_group AS (
    SELECT CASE WHEN GROUPING(ds.department_id) = 0 THEN 'department'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(ds.department_id) = 0 THEN ds.department_id END AS member,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM hits h WHERE h.asset_id = ds.asset_id)) AS yes,
           count(*) AS catalogued
    FROM datasets ds
    GROUP BY GROUPING SETS ((), (ds.department_id))
),
by_day AS (
    SELECT 'day' AS dimension, d.day::text AS member,
           count(h.asset_id) AS yes, count(ds.asset_id) AS catalogued
    FROM days d
    LEFT JOIN datasets ds ON ds.lo < d.hi AND ds.hi > d.lo
    LEFT JOIN hits h ON h.asset_id = ds.asset_id AND h.day = d.day
    GROUP BY d.day
)
SELECT dimension, member,
       CASE WHEN catalogued > 0 THEN 100.0 * yes / catalogued END::float8 AS value,
       yes::float8 AS numerator,
       catalogued::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM (SELECT * FROM by_group UNION ALL SELECT * FROM by_day) f
ORDER BY dimension, member
