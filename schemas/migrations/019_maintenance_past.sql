-- Maintenance and the past (issue #12, item 7; README "Rules an evaluator can check").
--
-- A maintenance window counts for the adjusted availability only from the moment the
-- platform recorded it (maintenance_windows.created_at, the server's clock, stored UTC):
-- alerts/maintenance.py materialises in maintenance_periods only the part of each
-- occurrence from created_at on, so the indicator SQL, which reads maintenance_periods,
-- needs no change. The declared times stay on the window (starts_at, ends_at, the RRULE)
-- and are shown; only their past part is not counted.
--
-- The exception is a window an admin approved as retroactive, with a reason: its
-- occurrences count whole, from the declared start. Who approved it, when and why are kept
-- on the window (all three or none) and written to the audit log in the same transaction
-- (action 'maintenance.retroactive'); reports list such windows in their provenance.
-- Only maintenance windows can be retroactive: a silence holds pages, which are about the
-- present, and never counts in a figure.
ALTER TABLE maintenance_windows
    ADD COLUMN retroactive_by     text,          -- the admin who approved counting the past
    ADD COLUMN retroactive_at     timestamptz,   -- when (the server's clock)
    ADD COLUMN retroactive_reason text,
    ADD CONSTRAINT maintenance_windows_retroactive_complete
        CHECK ((retroactive_by IS NULL) = (retroactive_at IS NULL)
               AND (retroactive_by IS NULL) = (retroactive_reason IS NULL)),
    ADD CONSTRAINT maintenance_windows_retroactive_kind
        CHECK (retroactive_by IS NULL OR kind = 'maintenance');

-- Windows stored before this rule counted the occurrence running at their creation from
-- its declared start (the code expanded every occurrence that ended after creation). Those
-- periods now start at the window's creation, as the rule says; each cut is written to the
-- audit log (action 'maintenance.counts_from_creation', the declared start kept in its
-- details), so a figure that changed can be traced, and an admin may still approve the
-- window as retroactive (`citybrain maintenance retroactive ID --reason ...`). The
-- availability facts of the days touched are forgotten by migration 012's triggers.
WITH cut AS (
    SELECT p.window_id, p.starts_at AS declared_from, w.created_at AS counts_from, w.kind
    FROM maintenance_periods p
    JOIN maintenance_windows w ON w.window_id = p.window_id
    WHERE p.starts_at < w.created_at AND p.ends_at > w.created_at
),
moved AS (
    UPDATE maintenance_periods p SET starts_at = c.counts_from
    FROM cut c
    WHERE p.window_id = c.window_id AND p.starts_at = c.declared_from
    RETURNING p.window_id
)
INSERT INTO audit_log (actor, role, action, subject, details)
SELECT 'migration:019', NULL, 'maintenance.counts_from_creation', c.window_id::text,
       jsonb_build_object('kind', c.kind, 'declared_from', c.declared_from,
                          'counts_from', c.counts_from,
                          'moved', (SELECT count(*) FROM moved m WHERE m.window_id = c.window_id))
FROM cut c;
