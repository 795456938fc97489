-- State intervals found by their end, so that the intervals overlapping a range cost what
-- the range holds, not the history before it (issue #3's report, over a year of history).
--
-- An interval overlaps [lo, hi) when started_at < hi and (ended_at > lo or it is open).
-- Migration 003's index on (started_at, ended_at) answered that by every interval that
-- started before hi: for a recent range, the whole history. With a year of intervals
-- (15 M for the report benchmark's city) refreshing one day's availability facts took 13 s
-- instead of 0.45 s, and camera access 1.1 s instead of 0.17 s. Closed intervals are now
-- read by their end (ended_at > lo: the intervals that ended since lo) and open ones by
-- the open-interval index (one per asset):
-- * the device online and camera intact rates' live ranges and the facts' days:
--   (ended_at, started_at);
-- * each camera's own intervals (camera access and sharing): (asset_id, ended_at).
-- Building them blocks writes to state_intervals (the liveness tracker waits): about 8 and
-- 14 s on 15 M intervals on a 2-core machine.
DROP INDEX IF EXISTS state_intervals_time_idx;
CREATE INDEX state_intervals_end_idx ON state_intervals (ended_at, started_at) WHERE ended_at IS NOT NULL;
CREATE INDEX state_intervals_asset_end_idx ON state_intervals (asset_id, ended_at) WHERE ended_at IS NOT NULL;
