-- No liveness state 'maintenance'. Maintenance is accounted from the maintenance windows
-- (maintenance_periods, cut at their creation by migration 019), never from a state: the
-- liveness tracker never entered 'maintenance', so no interval has it and the daily
-- availability facts' column for it (held_us, migration 012) is 0 in every row. The state
-- columns of migrations 003 and 006 stop admitting it, and the column goes: an
-- availability figure has one way to be under maintenance, not two.
--
-- Both storage modes run exactly this: asset_state, state_intervals and availability_daily
-- are plain tables under TimescaleDB too (only the event tables become hypertables,
-- timescale/002_events.sql), so no compressed chunk is involved. Adding the narrower
-- CHECK reads state_intervals once under the migration's lock (one transaction with the
-- other pending migrations); a NOT VALID constraint validated afterwards would not lock
-- less here, since the DROP of the old one already takes the table's exclusive lock.

-- A row with the state (written by hand, or by a tool outside this code base) would fail
-- the new constraint with a bare "violated by some row": say which rows and what to do.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM state_intervals WHERE state = 'maintenance')
       OR EXISTS (SELECT 1 FROM asset_state WHERE state = 'maintenance') THEN
        RAISE EXCEPTION 'liveness state ''maintenance'' is gone, but asset_state or state_intervals has rows in it'
            USING HINT = 'maintenance is recorded as maintenance windows (citybrain maintenance add); '
                         || 'delete those rows or set them to the state the assets were in, then migrate again';
    END IF;
END $$;

ALTER TABLE asset_state
    DROP CONSTRAINT asset_state_state_check,
    ADD CONSTRAINT asset_state_state_check CHECK (state IN ('online', 'degraded', 'offline', 'unknown'));
ALTER TABLE state_intervals
    DROP CONSTRAINT state_intervals_state_check,
    ADD CONSTRAINT state_intervals_state_check CHECK (state IN ('online', 'degraded', 'offline', 'unknown'));

-- The facts keep one column per known state (citybrain/indicators/families.py KNOWN_STATES).
ALTER TABLE availability_daily DROP COLUMN held_us;
