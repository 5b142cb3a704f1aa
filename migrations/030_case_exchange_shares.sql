-- 多地联办 sharing in the signed exchange chain (docs/cases.md, "What is signed, and when"): when the
-- handling place opens coordination tasks at acceptance it signs a `share` of the case's form and
-- materials with each task's division, and that division signs `task-done` when it reports its part.
-- Cases whose tasks opened before this migration have no shares; their tasks end without an entry.
ALTER TABLE case_exchanges DROP CONSTRAINT case_exchanges_kind_check;
ALTER TABLE case_exchanges ADD CONSTRAINT case_exchanges_kind_check
    CHECK (kind IN ('handover', 'result', 'acceptance', 'share', 'task-done'));
