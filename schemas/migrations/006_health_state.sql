-- 'degraded': the asset reports (it is up) but says it is not healthy, e.g. a camera
-- whose stream is not decodable or whose picture is black, frozen, occluded, blurred or
-- lost. Device online rate counts it as up; camera intact rate does not.
ALTER TABLE asset_state DROP CONSTRAINT asset_state_state_check;
ALTER TABLE asset_state ADD CONSTRAINT asset_state_state_check
    CHECK (state IN ('online', 'degraded', 'offline', 'unknown', 'maintenance'));
ALTER TABLE state_intervals DROP CONSTRAINT state_intervals_state_check;
ALTER TABLE state_intervals ADD CONSTRAINT state_intervals_state_check
    CHECK (state IN ('online', 'degraded', 'offline', 'unknown', 'maintenance'));
