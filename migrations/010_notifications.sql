-- The citizen's notification inbox: one row per message, written in the same transaction as the change
-- that causes it (a case received, a 补正 request, a pension reminder …). Text is stored in Chinese and
-- English; the subject names what the message is about, so a client can link to it.

CREATE TABLE notifications (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citizen_id   uuid NOT NULL REFERENCES citizens (id),
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' AND length(kind) <= 64),
    title_zh     text NOT NULL CHECK (length(title_zh) BETWEEN 1 AND 100),
    title_en     text NOT NULL CHECK (length(title_en) BETWEEN 1 AND 200),
    body_zh      text NOT NULL CHECK (length(body_zh) BETWEEN 1 AND 500),
    body_en      text NOT NULL CHECK (length(body_en) BETWEEN 1 AND 1000),
    subject_type text CHECK (subject_type ~ '^[a-z][a-z0-9_]{0,31}$'),
    subject_id   text CHECK (length(subject_id) BETWEEN 1 AND 64),
    -- Whether a text message went out with it (through the SMS gateway, to the phone on record then).
    sms          boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    CHECK ((subject_type IS NULL) = (subject_id IS NULL))
);
-- Newest first, and unread first: both orders walk one index per citizen.
CREATE INDEX notifications_citizen ON notifications (citizen_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread ON notifications (citizen_id, created_at DESC, id DESC) WHERE read_at IS NULL;
