-- Portal usage per local day and month, so DAU and MAU (portal.dau, portal.mau) stay
-- exact and cheap with millions of registered users: a report counts the rows of a day
-- or a month instead of the distinct users among tens of millions of raw events.
--
-- usage_user_days and usage_user_months hold one row per (local day or month, user,
-- recording system) that has at least one usage event (a sign-in or a transaction). A
-- distinct-user count over them is exact (the user key is the event's, as bytes: the
-- 64-hex HMAC decoded), and a row is a set member, not a sum: inserting it twice, or in
-- any order, leaves the same table (ON CONFLICT DO NOTHING). asset_id (the portal or
-- service platform that recorded the event) is in the key so a department scope counts
-- the users of that department's systems, and because the usage topic is keyed by it:
-- one system's rows are written by one ingest worker only, so workers never wait on each
-- other's rows.
--
-- usage_daily sums the events per (local day, system, channel, service item, department)
-- for the transaction shares; sign-ins have service_id and department_id '' (they are
-- about no item). Additive like probe_daily (migration 013): only the rows an INSERT
-- actually stored are added.
--
-- day is the local date in rollup_zone's zone (migration 011; Asia/Shanghai, the city's),
-- month the first day of its local month. streams/sink.py fills all three in the
-- statement that stores the batch (streams/active_users.py builds it);
-- streams/rollups.py `rebuild` recomputes whole local days (and the months they fall in)
-- from usage_events and `set_zone` all of them. A report in another zone, or a day or
-- month the window cuts, reads usage_events instead (the indicator SQL's headers).

CREATE TABLE usage_user_days (
    day       date NOT NULL,    -- (occurred_at AT TIME ZONE rollup_zone.tz)::date
    user_key  bytea NOT NULL,   -- decode(usage_events.user_key, 'hex'): 32 bytes
    asset_id  text NOT NULL,
    PRIMARY KEY (day, user_key, asset_id)
);

CREATE TABLE usage_user_months (
    month     date NOT NULL,    -- date_trunc('month', day): the local month's first day
    user_key  bytea NOT NULL,
    asset_id  text NOT NULL,
    PRIMARY KEY (month, user_key, asset_id)
);

CREATE TABLE usage_daily (
    day            date NOT NULL,
    asset_id       text NOT NULL,
    channel        text NOT NULL,
    service_id     text NOT NULL,   -- '' for sign-ins
    department_id  text NOT NULL,   -- '' for sign-ins
    sign_ins       bigint NOT NULL,
    transactions   bigint NOT NULL,
    fully_online   bigint NOT NULL, -- transactions handled end to end online (全程网办)
    PRIMARY KEY (day, asset_id, channel, service_id, department_id)
);

-- Back-fill from the rows already stored (the same aggregations as streams/active_users.py).
INSERT INTO usage_user_days (day, user_key, asset_id)
SELECT DISTINCT (e.occurred_at AT TIME ZONE z.tz)::date, decode(e.user_key, 'hex'), e.asset_id
FROM usage_events e CROSS JOIN rollup_zone z;

INSERT INTO usage_user_months (month, user_key, asset_id)
SELECT DISTINCT date_trunc('month', day)::date, user_key, asset_id FROM usage_user_days;

INSERT INTO usage_daily (day, asset_id, channel, service_id, department_id, sign_ins,
                         transactions, fully_online)
SELECT (e.occurred_at AT TIME ZONE z.tz)::date, e.asset_id, e.channel,
       coalesce(e.service_id, ''), coalesce(e.department_id, ''),
       count(*) FILTER (WHERE e.action = 'sign_in'),
       count(*) FILTER (WHERE e.action = 'transaction'),
       count(*) FILTER (WHERE e.action = 'transaction' AND e.fully_online)
FROM usage_events e CROSS JOIN rollup_zone z
GROUP BY 1, 2, 3, 4, 5;
