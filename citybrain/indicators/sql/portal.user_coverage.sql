-- portal.user_coverage, version 1: coverage of the unified portal (门户注册用户覆盖率): registered users / population.
-- portal_accounts.registered_users / Σ population.people of the districts (basis
-- 'resident', 常住; the basis breakdown also 'household', 户籍).
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'basis', 'day'; member; value in percent; numerator =
-- registered users; denominator = population; adjusted_value and unknown_share NULL). The
-- total divides by the resident population (常住); the basis breakdown gives both, resident
-- and household (户籍); day: each local day of W on the figures dated at or before it).
--
-- The figures are dated (portal_accounts.as_of, population.as_of; migration 025): each is
-- the latest at or before D, the local date (tz) of W's last instant. The population of a
-- basis is the sum over the districts of the register of each district's latest figure on
-- that basis; it is missing (value NULL) when a district has none, rather than a smaller
-- sum. No account figure at or before D: value NULL. The accounts are the city portal's:
-- a department scope has no figure (NULL).
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
last_day AS MATERIALIZED (
    -- D: the local date of W's last instant (W = [start, end) is never empty; a
    -- degenerate one would take its start).
    SELECT ((greatest(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond'))
            AT TIME ZONE %(tz)s::text)::date AS d
),
points AS (
    -- The total and each basis at D; each local day of W (resident) at that day.
    SELECT 'total' AS dimension, NULL::text AS member, 'resident' AS basis, l.d FROM last_day l
    UNION ALL
    SELECT 'basis', b.basis, b.basis, l.d
    FROM last_day l CROSS JOIN (VALUES ('resident'), ('household')) AS b(basis)
    UNION ALL
    SELECT 'day', d.day::text, 'resident', d.day FROM days d
),
figures AS (
    SELECT p.dimension, p.member,
           (SELECT a.registered_users FROM portal_accounts a
            WHERE a.as_of <= p.d AND %(department)s::text IS NULL
            ORDER BY a.as_of DESC
            LIMIT 1) AS users,
           (SELECT CASE WHEN count(d.district_id) > 0 AND count(x.people) = count(d.district_id)
                        THEN sum(x.people) END
            FROM districts d
            LEFT JOIN LATERAL (
                SELECT y.people FROM population y
                WHERE y.district_id = d.district_id AND y.basis = p.basis AND y.as_of <= p.d
                ORDER BY y.as_of DESC
                LIMIT 1) x ON true) AS people
    FROM points p
)
SELECT dimension, member,
       CASE WHEN users IS NOT NULL AND people > 0 THEN 100.0 * users / people END::float8 AS value,
       users::float8 AS numerator,
       people::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member
