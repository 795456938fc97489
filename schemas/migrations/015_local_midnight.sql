-- The first instant of a local date, for the indicator SQL's day boundaries (issue #3:
-- "day boundaries in the report's time zone, any IANA zone accepted, DST handled").
--
-- `d::timestamp AT TIME ZONE tz` names the later of two equal local times. Where clocks
-- fall back across midnight (America/Havana on 2026-11-01: 01:00 CDT → 00:00 CST) local
-- midnight happens twice and it names the second one, an hour into the day: that hour
-- would be counted on the day before, although its local date ((t AT TIME ZONE tz)::date,
-- how every stored row finds its day) is the new one.
--
-- local_midnight(d, tz) is where local date d begins: when the instant just before
-- `d::timestamp AT TIME ZONE tz` already has local date d, the day began earlier, at that
-- instant minus its local time of day. Elsewhere it is the plain conversion, including
-- where midnight is skipped (the day then begins at the first instant after the gap).
CREATE FUNCTION local_midnight(d date, tz text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN (((d::timestamp AT TIME ZONE tz) - interval '1 microsecond') AT TIME ZONE tz)::date = d
        THEN ((d::timestamp AT TIME ZONE tz) - interval '1 microsecond')
             - ((((d::timestamp AT TIME ZONE tz) - interval '1 microsecond') AT TIME ZONE tz) - d::timestamp)
        ELSE d::timestamp AT TIME ZONE tz
    END;

-- Availability facts (migration 012) of days whose bounds the old conversion placed
-- elsewhere were computed over other spans: forget them; the worker recomputes them.
-- (Only zones with a repeated midnight have such days; Asia/Shanghai has none.)
DELETE FROM availability_days d
USING rollup_zone z
WHERE local_midnight(d.day, z.tz) <> d.day::timestamp AT TIME ZONE z.tz
   OR local_midnight(d.day + 1, z.tz) <> (d.day + 1)::timestamp AT TIME ZONE z.tz;
