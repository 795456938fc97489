-- data.resource_count, version 1: data resources catalogued (数据资源数量), the quantity of the evaluation table's data row.
-- The number of catalogued datasets (kind dataset) in the register at any time in W
-- (scope W ∩ [registered_at, retired_at) not empty): the denominator of the data
-- sharing, open and freshness rates, so the quantity and the rates count the same
-- datasets. Day (local midnights in tz): datasets in the register that day.
-- "No data" (value NULL) only when the scope has no registered asset at all during W;
-- a department without datasets has 0.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value = datasets;
-- numerator = datasets; denominator, adjusted_value and unknown_share NULL).
WITH days AS MATERIALIZED (
    -- (materialized: each local midnight is computed once, not once per joined row)
    SELECT d::date AS day,
           greatest(%(start)s::timestamptz, local_midnight(d::date, %(tz)s::text)) AS lo,
           least(%(end)s::timestamptz, local_midnight(d::date + 1, %(tz)s::text)) AS hi
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
in_scope AS NOT MATERIALIZED (
    SELECT a.asset_id, a.kind, a.department_id,
           greatest(a.registered_at, %(start)s::timestamptz) AS lo,
           least(a.retired_at, %(end)s::timestamptz) AS hi
    FROM assets a
    WHERE a.registered_at < %(end)s::timestamptz
      AND (a.retired_at IS NULL OR a.retired_at > greatest(a.registered_at, %(start)s::timestamptz))
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
has_data AS (
    SELECT EXISTS (SELECT 1 FROM in_scope) AS yes
),
by_group AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id END AS member,
           count(*) FILTER (WHERE kind = 'dataset') AS registered
    FROM in_scope
    GROUP BY GROUPING SETS ((), (department_id))
),
by_day AS (
    SELECT 'day' AS dimension, d.day::text AS member, count(p.asset_id) AS registered
    FROM days d
    LEFT JOIN in_scope p ON p.kind = 'dataset' AND p.lo < d.hi AND p.hi > d.lo
    GROUP BY d.day
)
SELECT f.dimension, f.member,
       CASE WHEN h.yes THEN f.registered END::float8 AS value,
       CASE WHEN h.yes THEN f.registered END::float8 AS numerator,
       NULL::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM (SELECT * FROM by_group UNION ALL SELECT * FROM by_day) f
CROSS JOIN has_data h
ORDER BY f.dimension, f.member
