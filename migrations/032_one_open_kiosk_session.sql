-- One resident session open at a kiosk at a time (docs/kiosk.md): two sign-ins at once at one kiosk each
-- ended only the sessions it could see, and both stayed open. Sign-in now locks the kiosk's row first;
-- this index makes a second open session impossible whatever the code does. Sessions left open twice by
-- the race end now, the later one kept, as a sign-in replacing them would have done.
WITH ranked AS (
    SELECT session_id, row_number() OVER (PARTITION BY kiosk_id ORDER BY started_at DESC, session_id) AS n
    FROM kiosk_sessions WHERE ended_at IS NULL
), ended AS (
    UPDATE kiosk_sessions s SET ended_at = now(), end_reason = 'replaced'
    FROM ranked r WHERE s.session_id = r.session_id AND r.n > 1
    RETURNING s.session_id
)
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'kiosk session ended: replaced'
WHERE id IN (SELECT session_id FROM ended) AND revoked_at IS NULL;

DROP INDEX kiosk_sessions_kiosk;
CREATE UNIQUE INDEX kiosk_sessions_one_open ON kiosk_sessions (kiosk_id) WHERE ended_at IS NULL;
