-- Exact seconds for the indicator SQL.
--
-- date_part('epoch', interval) is a double; summing a million of them gives a result
-- that depends on the order of the additions, and that order depends on the plan
-- (parallel workers, hash or sort aggregation). Two exports of the same data then
-- differed in the last digits, and a share that should be 0 came out as 4e-16.
-- The indicators therefore sum durations as whole microseconds (bigint; PostgreSQL
-- timestamps have microsecond resolution, so nothing is rounded away) and convert to
-- seconds once, at the end: the same data gives the same figures under every plan.

-- An interval's length in microseconds. The double is exact to well under 1 µs for any
-- span a report covers (under 100 years), so rounding it recovers the integer exactly.
CREATE FUNCTION epoch_us(iv interval) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (date_part('epoch', iv) * 1000000)::bigint;
