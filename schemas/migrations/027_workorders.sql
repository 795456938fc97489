-- 12345 work orders (issue #18): the facts the hotline fact step (streams/workorders.py)
-- derives from hotline_events, and their links to incidents.
--
-- Every row here is a function of the stored events: each batch recomputes the orders it
-- touched (and the orders whose pending limit ran out before the feed's watermark) from
-- all their events, deleting and inserting their rows, so the facts are the same whatever
-- the batching, the delivery order or a replay. Times are UTC.

-- One row per order: where it stands and when each step first happened.
CREATE TABLE work_orders (
    order_id          text PRIMARY KEY,
    category          text,                 -- from the created event (NULL: no created event yet)
    department_id     text,                 -- the department holding it: the last dispatch or reassignment
    subject_asset_id  text,                 -- what the order is about (the first event naming one)
    service_id        text,
    district_id       text,
    channel           text,
    state             text NOT NULL CHECK (state IN ('created', 'dispatched', 'accepted', 'responded',
                                                      'fed_back', 'completed', 'returned', 'reopened',
                                                      'merged', 'unknown')),
    created_at        timestamptz,          -- 受理: every clock starts here
    responded_at      timestamptz,          -- first response (responded, fed_back or completed)
    fed_back_at       timestamptz,          -- first feedback (fed_back or completed)
    first_completed_at timestamptz,         -- first final reply
    completed_at      timestamptz,          -- final reply that stands (none after it was reopened)
    first_reopened_at timestamptz,
    reopen_count      integer NOT NULL DEFAULT 0,
    return_count      integer NOT NULL DEFAULT 0,   -- returned (退单) and reassigned (改派) steps
    return_visits     integer NOT NULL DEFAULT 0,
    satisfaction      text CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    merged_into       text,                 -- 并单: the surviving order (this one leaves the rates)
    merged_at         timestamptz,
    merged_orders     integer NOT NULL DEFAULT 0,   -- orders merged into this one
    last_event_at     timestamptz NOT NULL,
    events            integer NOT NULL,
    problem           text CHECK (problem IN ('no_created_event', 'category_unknown'))
);
CREATE INDEX work_orders_created_idx ON work_orders (created_at);
CREATE INDEX work_orders_subject_idx ON work_orders (subject_asset_id, created_at)
    WHERE subject_asset_id IS NOT NULL;
CREATE INDEX work_orders_merged_into_idx ON work_orders (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX work_orders_department_idx ON work_orders (department_id, created_at);

-- One row per (order, limit of its category): when the limit runs out, when it was met
-- and the outcome. due_at NULL with a reason when it cannot be computed (a calendar year
-- nobody described, a category the configuration does not know, no created event):
-- such a limit is neither met nor breached. An order merged into another has no limits.
-- outcome: met (done by due_at); breached (done after due_at, or not done and due_at is
-- at or before the hotline feed's watermark — the latest occurred_at stored); pending
-- (not done, due_at after the watermark); unknown (due_at NULL).
CREATE TABLE work_order_limits (
    order_id       text NOT NULL REFERENCES work_orders (order_id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('response', 'feedback', 'completion')),
    category       text,
    department_id  text,
    created_at     timestamptz,
    due_at         timestamptz,
    done_at        timestamptz,
    outcome        text NOT NULL CHECK (outcome IN ('met', 'breached', 'pending', 'unknown')),
    reason         text CHECK (reason IN ('calendar_unknown', 'category_unknown', 'no_created_event',
                                     'limit_error')),
    PRIMARY KEY (order_id, kind),
    CHECK ((due_at IS NULL) = (outcome = 'unknown')),
    CHECK ((reason IS NULL) = (due_at IS NOT NULL))
);
CREATE INDEX work_order_limits_pending_idx ON work_order_limits (due_at) WHERE outcome = 'pending';
CREATE INDEX work_order_limits_created_idx ON work_order_limits (kind, created_at);

-- Every breach of a work-order limit, as the incidents' sla_breaches lists theirs: the
-- moment it became one is due_at; done_at NULL: still not done.
CREATE VIEW work_order_breaches AS
    SELECT order_id, kind, category, department_id, created_at, due_at, done_at
      FROM work_order_limits
     WHERE outcome = 'breached';

-- Work orders about an asset with an incident open when the order was created: the
-- incident's asset or one of its affected assets is the order's subject, and the order's
-- creation falls in [opened_at, resolved_at). Computed when read from the stored orders
-- and incidents, never kept: an incident opened or resolved later changes it at once.
CREATE VIEW work_order_incidents AS
    SELECT DISTINCT o.order_id, i.incident_id
      FROM work_orders o
      JOIN (SELECT incident_id, asset_id FROM incidents WHERE asset_id IS NOT NULL
            UNION
            SELECT incident_id, asset_id FROM incident_assets) a ON a.asset_id = o.subject_asset_id
      JOIN incidents i ON i.incident_id = a.incident_id
     WHERE o.created_at >= i.opened_at
       AND (i.resolved_at IS NULL OR o.created_at < i.resolved_at);

-- "Citizens are calling about it": one timeline entry per incident when its linked work
-- orders reach CITYBRAIN_HOTLINE_INCIDENT_CALLS (streams/workorders.py); at most one,
-- whichever hotline worker gets there first.
CREATE UNIQUE INDEX incident_events_hotline_calls ON incident_events (incident_id)
    WHERE kind = 'hotline.calls';
