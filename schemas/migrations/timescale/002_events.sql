-- TimescaleDB path (2.x documented APIs): event tables become hypertables chunked by
-- event time, with compression after 7 days and retention after 400 days.
SELECT create_hypertable('iot_events', by_range('occurred_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('video_events', by_range('occurred_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('cloud_events', by_range('occurred_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('security_events', by_range('occurred_at', INTERVAL '7 days'), migrate_data => true);
SELECT create_hypertable('probe_events', by_range('occurred_at', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('data_events', by_range('occurred_at', INTERVAL '7 days'), migrate_data => true);

ALTER TABLE iot_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'asset_id', timescaledb.compress_orderby = 'occurred_at DESC');
ALTER TABLE video_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'asset_id', timescaledb.compress_orderby = 'occurred_at DESC');
ALTER TABLE cloud_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'asset_id', timescaledb.compress_orderby = 'occurred_at DESC');
ALTER TABLE probe_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'asset_id', timescaledb.compress_orderby = 'occurred_at DESC');

SELECT add_compression_policy('iot_events', INTERVAL '7 days');
SELECT add_compression_policy('video_events', INTERVAL '7 days');
SELECT add_compression_policy('cloud_events', INTERVAL '7 days');
SELECT add_compression_policy('probe_events', INTERVAL '7 days');

-- Security and data events are kept longer: incidents and evaluations look back a year.
SELECT add_retention_policy('iot_events', INTERVAL '400 days');
SELECT add_retention_policy('video_events', INTERVAL '400 days');
SELECT add_retention_policy('cloud_events', INTERVAL '400 days');
SELECT add_retention_policy('probe_events', INTERVAL '400 days');
