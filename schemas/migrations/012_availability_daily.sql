-- Availability facts per local day, so a 30-day online rate adds up a few thousand
-- rows instead of re-deriving every interval of 100,000 devices (issue #3's report).
--
-- availability_daily holds, per local day of rollup_zone (migration 011) and per group
-- (asset kind, department, district), the whole microseconds of the assets' scopes
-- (the day ∩ [registered_at, retired_at)) and of their intervals in each state, clipped
-- to those scopes, both in all and inside the maintenance that applies to each asset.
-- These are exactly the sums the availability SQL forms from state_intervals (the same
-- clipping, the same maintenance union, epoch_us): a report adds them for the whole
-- days it covers and derives only the rest (a cut first or last day, a day without
-- current facts, another zone) from the intervals. Unknown time is scope − known, as there.
--
-- availability_days lists the days whose facts are current. Facts are written by
-- citybrain/availability.py (`refresh`: the worker after each local day has ended,
-- `citybrain db rollup` for back-fills) under SHARE locks on the tables they are derived
-- from, so no change can slip in between reading and recording them. Any later change
-- to those tables removes the days it touches from availability_days in its own
-- statement (the triggers below): a report then reads those days from the intervals
-- until the facts are refreshed. A report is therefore exact whether or not the facts
-- are current; they only make it fast. The triggers assume writers run in READ
-- COMMITTED (the default, and what every writer here uses): each statement of theirs
-- then sees the days recorded before it.

CREATE TABLE availability_days (
    day          date PRIMARY KEY,          -- local date in rollup_zone.tz
    computed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE availability_daily (
    day            date NOT NULL,           -- local date in rollup_zone.tz
    kind           text NOT NULL,
    department_id  text NOT NULL,
    district_id    text,                    -- NULL: the assets without a district
    scope_us       bigint NOT NULL,         -- Σ |day ∩ [registered_at, retired_at)|
    online_us      bigint NOT NULL,         -- Σ state 'online', clipped to the scopes
    degraded_us    bigint NOT NULL,         -- Σ state 'degraded'
    offline_us     bigint NOT NULL,         -- Σ state 'offline'
    held_us        bigint NOT NULL,         -- Σ state 'maintenance'
    online_m_us    bigint NOT NULL,         -- Σ 'online' inside the asset's maintenance union
    degraded_m_us  bigint NOT NULL,         -- Σ 'degraded' inside it
    offline_m_us   bigint NOT NULL          -- Σ 'offline' inside it
);
CREATE INDEX availability_daily_day_idx ON availability_daily (day, kind);

-- Forget the facts of the local days that [lo, hi) meets (hi 'infinity': unbounded, as
-- its local date is the infinite date); lo NULL forgets nothing.
CREATE FUNCTION availability_forget(lo timestamptz, hi timestamptz) RETURNS void
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    DELETE FROM availability_days d USING rollup_zone z
    WHERE lo IS NOT NULL
      AND d.day >= (lo AT TIME ZONE z.tz)::date
      AND d.day <= (hi AT TIME ZONE z.tz)::date;
END;

-- The days that changed intervals touch. An UPDATE that only moves an end (the liveness
-- tracker closing the current interval, ended_at NULL → t) changes only the time
-- between the old and the new end, so closing an interval opened days ago does not
-- forget those days; any other change counts the whole old and new spans.
CREATE FUNCTION availability_intervals_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM availability_days) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM availability_days;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT min(started_at), max(coalesce(ended_at, 'infinity')) INTO lo, hi FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT min(started_at), max(coalesce(ended_at, 'infinity')) INTO lo, hi FROM old_rows;
    ELSE
        SELECT min(c.lo), max(c.hi) INTO lo, hi
        FROM (SELECT CASE WHEN o.state = n.state THEN least(coalesce(o.ended_at, 'infinity'),
                                                             coalesce(n.ended_at, 'infinity'))
                          ELSE o.started_at END AS lo,
                     greatest(coalesce(o.ended_at, 'infinity'), coalesce(n.ended_at, 'infinity')) AS hi
              FROM old_rows o JOIN new_rows n USING (asset_id, started_at)
              WHERE o.state IS DISTINCT FROM n.state OR o.ended_at IS DISTINCT FROM n.ended_at
              UNION ALL
              SELECT o.started_at, coalesce(o.ended_at, 'infinity') FROM old_rows o
              WHERE NOT EXISTS (SELECT 1 FROM new_rows n
                                WHERE n.asset_id = o.asset_id AND n.started_at = o.started_at)
              UNION ALL
              SELECT n.started_at, coalesce(n.ended_at, 'infinity') FROM new_rows n
              WHERE NOT EXISTS (SELECT 1 FROM old_rows o
                                WHERE o.asset_id = n.asset_id AND o.started_at = n.started_at)) c;
    END IF;
    PERFORM availability_forget(lo, hi);
    RETURN NULL;
END $$;

-- Assets: a change of what places an asset in a group or a maintenance class (kind,
-- department, district, tags) counts its whole life; a new registration or retirement
-- time counts the time between the old and the new one.
CREATE FUNCTION availability_assets_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM availability_days) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM availability_days;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT min(registered_at), max(coalesce(retired_at, 'infinity')) INTO lo, hi FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT min(registered_at), max(coalesce(retired_at, 'infinity')) INTO lo, hi FROM old_rows;
    ELSE
        SELECT min(c.lo), max(c.hi) INTO lo, hi
        FROM old_rows o JOIN new_rows n USING (asset_id)
        CROSS JOIN LATERAL (
            SELECT least(o.registered_at, n.registered_at) AS lo,
                   greatest(coalesce(o.retired_at, 'infinity'), coalesce(n.retired_at, 'infinity')) AS hi
            WHERE (o.kind, o.department_id, o.district_id, o.tags)
                  IS DISTINCT FROM (n.kind, n.department_id, n.district_id, n.tags)
            UNION ALL
            SELECT least(o.registered_at, n.registered_at), greatest(o.registered_at, n.registered_at)
            WHERE o.registered_at <> n.registered_at
            UNION ALL
            SELECT least(coalesce(o.retired_at, 'infinity'), coalesce(n.retired_at, 'infinity')),
                   greatest(coalesce(o.retired_at, 'infinity'), coalesce(n.retired_at, 'infinity'))
            WHERE o.retired_at IS DISTINCT FROM n.retired_at) c;
        -- An asset id changed (not done by this code base): count both whole lives.
        IF EXISTS (SELECT 1 FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM new_rows n
                                                             WHERE n.asset_id = o.asset_id)) THEN
            SELECT least(lo, min(registered_at)), 'infinity' INTO lo, hi
            FROM (SELECT registered_at FROM old_rows UNION ALL SELECT registered_at FROM new_rows) r;
        END IF;
    END IF;
    PERFORM availability_forget(lo, hi);
    RETURN NULL;
END $$;

-- Maintenance: the periods added, removed or moved; for a window whose kind, scope,
-- target or removal changed, all of its periods.
CREATE FUNCTION availability_maintenance_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM availability_days) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM availability_days;
        RETURN NULL;
    ELSIF TG_TABLE_NAME = 'maintenance_periods' THEN
        IF TG_OP = 'INSERT' THEN
            SELECT min(starts_at), max(ends_at) INTO lo, hi FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT min(starts_at), max(ends_at) INTO lo, hi FROM old_rows;
        ELSE
            SELECT min(starts_at), max(ends_at) INTO lo, hi
            FROM (SELECT starts_at, ends_at FROM old_rows UNION ALL SELECT starts_at, ends_at FROM new_rows) r;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT min(p.starts_at), max(p.ends_at) INTO lo, hi
        FROM old_rows o JOIN new_rows n USING (window_id)
        JOIN maintenance_periods p ON p.window_id = n.window_id
        WHERE (o.kind, o.scope, o.target, o.removed_at) IS DISTINCT FROM (n.kind, n.scope, n.target, n.removed_at);
    END IF;
    -- A window inserted or deleted has no periods of its own here: those come and go in
    -- maintenance_periods (ON DELETE CASCADE fires that table's trigger).
    PERFORM availability_forget(lo, hi);
    RETURN NULL;
END $$;

CREATE TRIGGER availability_intervals_insert AFTER INSERT ON state_intervals
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION availability_intervals_changed();
CREATE TRIGGER availability_intervals_update AFTER UPDATE ON state_intervals
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION availability_intervals_changed();
CREATE TRIGGER availability_intervals_delete AFTER DELETE ON state_intervals
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION availability_intervals_changed();
CREATE TRIGGER availability_intervals_truncate AFTER TRUNCATE ON state_intervals
    FOR EACH STATEMENT EXECUTE FUNCTION availability_intervals_changed();

CREATE TRIGGER availability_assets_insert AFTER INSERT ON assets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION availability_assets_changed();
CREATE TRIGGER availability_assets_update AFTER UPDATE ON assets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION availability_assets_changed();
CREATE TRIGGER availability_assets_delete AFTER DELETE ON assets
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION availability_assets_changed();
CREATE TRIGGER availability_assets_truncate AFTER TRUNCATE ON assets
    FOR EACH STATEMENT EXECUTE FUNCTION availability_assets_changed();

CREATE TRIGGER availability_periods_insert AFTER INSERT ON maintenance_periods
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION availability_maintenance_changed();
CREATE TRIGGER availability_periods_update AFTER UPDATE ON maintenance_periods
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION availability_maintenance_changed();
CREATE TRIGGER availability_periods_delete AFTER DELETE ON maintenance_periods
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION availability_maintenance_changed();
CREATE TRIGGER availability_periods_truncate AFTER TRUNCATE ON maintenance_periods
    FOR EACH STATEMENT EXECUTE FUNCTION availability_maintenance_changed();
CREATE TRIGGER availability_windows_update AFTER UPDATE ON maintenance_windows
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION availability_maintenance_changed();

-- Facts are days of one zone: moving the zone forgets them all.
CREATE FUNCTION availability_zone_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM availability_days;
    RETURN NULL;
END $$;
CREATE TRIGGER availability_zone_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rollup_zone
    FOR EACH STATEMENT EXECUTE FUNCTION availability_zone_changed();
