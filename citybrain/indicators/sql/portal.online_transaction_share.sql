-- portal.online_transaction_share, version 1: share of transactions handled fully online (全程网办率).
-- Usage events of action 'transaction' in W with fully_online / all of them.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'channel', 'day'; member; value in
-- percent; numerator = fully online transactions; denominator = transactions;
-- adjusted_value and unknown_share NULL). No transaction in scope: value NULL.
--
-- A transaction is a stored usage event of action 'transaction' (one per matter handled,
-- reported once when completed; a delivery repeated is stored once), on the local day of
-- its occurred_at; fully online when its fully_online is true. Department scope: the
-- transactions of the department's service items (usage_events.department_id).
--
-- Where the counts come from (exact either way): whole local days of W, in the zone of
-- the daily facts (rollup_zone), from usage_daily (migration 026); the days W cuts, and
-- every day when the report's zone is not the facts', from the raw usage_events rows.
WITH zone AS MATERIALIZED (
    SELECT coalesce((SELECT z.tz = %(tz)s::text FROM rollup_zone z), false) AS daily
),
days AS MATERIALIZED (
    SELECT d::date AS day,
           greatest(%(start)s::timestamptz, local_midnight(d::date, %(tz)s::text)) AS lo,
           least(%(end)s::timestamptz, local_midnight(d::date + 1, %(tz)s::text)) AS hi
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
served AS MATERIALIZED (
    SELECT d.day, d.lo, d.hi,
           z.daily AND d.lo = local_midnight(d.day, %(tz)s::text)
               AND d.hi = local_midnight(d.day + 1, %(tz)s::text) AS whole
    FROM days d CROSS JOIN zone z
),
per_day AS (
    SELECT s.day, u.department_id, u.channel,
           sum(u.transactions) AS transactions, sum(u.fully_online) AS online
    FROM served s
    JOIN usage_daily u ON u.day = s.day
    WHERE s.whole AND u.transactions > 0
      AND (%(department)s::text IS NULL OR u.department_id = %(department)s::text)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.day, e.department_id, e.channel,
           count(*), count(*) FILTER (WHERE e.fully_online)
    FROM served s
    JOIN usage_events e ON e.occurred_at >= s.lo AND e.occurred_at < s.hi
    WHERE NOT s.whole AND e.action = 'transaction'
      AND (%(department)s::text IS NULL OR e.department_id = %(department)s::text)
    GROUP BY 1, 2, 3
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(channel) = 0 THEN 'channel'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(channel) = 0 THEN channel
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           coalesce(sum(online), 0) AS online, coalesce(sum(transactions), 0) AS transactions
    FROM per_day
    GROUP BY GROUPING SETS ((), (department_id), (channel), (day))
)
SELECT dimension, member,
       CASE WHEN transactions > 0 THEN 100.0 * online / transactions END::float8 AS value,
       online::float8 AS numerator,
       transactions::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member
