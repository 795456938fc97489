-- 好差评 facts: one row per rating (rating_events, migration 025), derived by the rating
-- family's fact step (streams/ratings.py) in the sink's transaction from ALL the stored
-- events of that rating, so the row is the same whatever the batching, the order of
-- deliveries or a replay.
--
-- The rating of record is its first 'rated' event (occurred_at, then event_id); levels
-- 1–2 (不满意, 非常不满意) are bad ratings (差评), 3–5 good (GB/T 39735-2020; 国办发
-- 〔2019〕51号). A bad rating is due for rectification at the end of the
-- rectification_days-th working day after its local day (the official calendar with the
-- city's and the department's own days, in the city's zone); it is on time when the
-- first 'rectified' event is before that moment. After the rectification the person is
-- visited again: the first return visit that reached them (satisfied not NULL) at or
-- after the rectification, within return_visit_days working days of it.
--
-- Nothing here depends on when the facts were derived: 'pending' means "no rectification
-- stored"; whether a pending rating is overdue is decided by whoever reads it, against
-- their own clock or window (rectification_due). The *_judged_at columns are the moment
-- a rating's outcome became known — the rectification (or return visit) if it came in
-- time, else the due moment — so each rating is judged in exactly one reporting window.
--
-- A rating whose deadline needs a year the work calendar does not know keeps its due
-- NULL with reason 'calendar_unknown' (never a guess from weekends); the events of a
-- rating whose 'rated' event has not arrived yet give a row with level NULL and reason
-- 'not_rated'.
CREATE TABLE rating_facts (
    rating_id               text PRIMARY KEY,
    rated_at                timestamptz,
    level                   smallint CHECK (level BETWEEN 1 AND 5),
    bad                     boolean,            -- level 1–2 (差评)
    channel                 text,
    department_id           text,
    service_id              text,
    transaction_id          text,
    tags                    text[] NOT NULL DEFAULT '{}',
    rectification_days      smallint,           -- the limit applied, in working days
    rectification_due       timestamptz,
    rectified_at            timestamptz,
    rectification           text CHECK (rectification IN ('on_time', 'late', 'pending', 'unknown')),
    rectification_judged_at timestamptz,        -- least(rectified_at, rectification_due)
    return_visit_days       smallint,
    return_visit_due        timestamptz,
    return_visit_at         timestamptz,        -- first reached visit at/after rectified_at
    return_visit_attempts   integer NOT NULL DEFAULT 0,  -- visits after rectification, reached or not
    return_visit_within     boolean,            -- return_visit_at < return_visit_due
    return_visit_judged_at  timestamptz,        -- least(return_visit_at, return_visit_due)
    satisfied               boolean,            -- the person's answer at that visit
    reason                  text,               -- why a due is missing: calendar_unknown, not_rated, ...
    events                  integer NOT NULL DEFAULT 0,
    CHECK (bad IS NOT TRUE OR rectification IS NOT NULL)
);
CREATE INDEX rating_facts_rated ON rating_facts (rated_at);
CREATE INDEX rating_facts_rectification ON rating_facts (rectification_judged_at)
    WHERE rectification_judged_at IS NOT NULL;
CREATE INDEX rating_facts_return_visit ON rating_facts (return_visit_judged_at)
    WHERE return_visit_judged_at IS NOT NULL;
