-- The staff case view lists the data requests made for the case by the reader's divisions
-- (docs/cases.md, "Who may see what"): found by the case, not by scanning every request.
CREATE INDEX data_requests_case ON data_requests (case_id, created_at) WHERE case_id IS NOT NULL;
