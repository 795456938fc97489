-- As of (issue #12, item 5; README "Rules an evaluator can check"): an asset's time is
-- known only up to the watermark of its liveness feed (feed_watermarks: the latest event
-- time up to which that feed's state intervals are written). The availability SQL and
-- the daily facts (migration 012) end every scope there, so an open interval no longer
-- runs past the feed's last data: later time is outside the scope.
--
-- The facts of a day the watermark had not yet passed hold its scopes cut at the
-- watermark. When the watermark moves, the days between its old and its new value have
-- other scopes: forget them (availability_days), as a late interval does, and the worker
-- computes them again. The watermark normally moves within today, whose facts do not
-- exist yet, so this deletes nothing; a feed that stalled and resumes forgets the days
-- of its stall. A feed's first watermark bounds its assets' time from then on (before
-- it, nothing bounded them): the days from it on are forgotten. citybrain/availability.py
-- reads feed_watermarks under the same SHARE lock as the other sources, so a watermark
-- written while facts are computed meets the recorded days here. (OR REPLACE: applying it
-- again after the rollup tables of 011–012 were rebuilt is harmless.)

CREATE OR REPLACE FUNCTION availability_watermark_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM availability_days;
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM availability_forget(NEW.watermark, 'infinity');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM availability_forget(OLD.watermark, 'infinity');
    ELSIF NEW.feed IS DISTINCT FROM OLD.feed THEN
        PERFORM availability_forget(least(OLD.watermark, NEW.watermark), 'infinity');
    ELSE
        PERFORM availability_forget(least(OLD.watermark, NEW.watermark),
                                    greatest(OLD.watermark, NEW.watermark));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER availability_watermark_insert AFTER INSERT ON feed_watermarks
    FOR EACH ROW EXECUTE FUNCTION availability_watermark_changed();
CREATE OR REPLACE TRIGGER availability_watermark_update AFTER UPDATE OF feed, watermark ON feed_watermarks
    FOR EACH ROW WHEN (OLD.feed IS DISTINCT FROM NEW.feed OR OLD.watermark IS DISTINCT FROM NEW.watermark)
    EXECUTE FUNCTION availability_watermark_changed();
CREATE OR REPLACE TRIGGER availability_watermark_delete AFTER DELETE ON feed_watermarks
    FOR EACH ROW EXECUTE FUNCTION availability_watermark_changed();
CREATE OR REPLACE TRIGGER availability_watermark_truncate AFTER TRUNCATE ON feed_watermarks
    FOR EACH STATEMENT EXECUTE FUNCTION availability_watermark_changed();
