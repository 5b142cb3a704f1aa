-- A kiosk session assisted by a staff member ends when that member's account is disabled or deleted
-- (backend/kiosks/sessions.py, `resume`): a new reason for ending one.

ALTER TABLE kiosk_sessions DROP CONSTRAINT kiosk_sessions_end_reason_check;
ALTER TABLE kiosk_sessions ADD CONSTRAINT kiosk_sessions_end_reason_check
    CHECK (end_reason IN ('card-removed', 'idle-timeout', 'signed-out', 'kiosk-revoked', 'replaced',
                          'assistant-disabled'));
