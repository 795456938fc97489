-- TimescaleDB path: the portal usage table becomes a hypertable like the telemetry (it is
-- the one of the three with volume: tens of events a second); ratings and work orders are
-- a few thousand rows a day and stay plain tables.
SELECT create_hypertable('usage_events', by_range('occurred_at', INTERVAL '1 day'), migrate_data => true);
ALTER TABLE usage_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'asset_id', timescaledb.compress_orderby = 'occurred_at DESC');
SELECT add_compression_policy('usage_events', INTERVAL '7 days');
SELECT add_retention_policy('usage_events', INTERVAL '400 days');
