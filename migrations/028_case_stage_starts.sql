-- When a case's stages began, on its row: `received_at` (收件, proxy and joint; an online case's
-- hand-over stage starts at its application) and `accepted_at` (受理). The transition that ends a
-- stage reads the start from the case row it has locked instead of searching the timeline.
ALTER TABLE cases ADD COLUMN received_at timestamptz, ADD COLUMN accepted_at timestamptz;

UPDATE cases c SET
    received_at = (SELECT max(e.at) FROM case_events e WHERE e.case_id = c.id AND e.action = 'receive'),
    accepted_at = (SELECT max(e.at) FROM case_events e WHERE e.case_id = c.id AND e.action = 'accept');
