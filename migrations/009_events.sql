-- Events for other systems (an event outbox written in the same transaction as the change it
-- reports), webhook subscribers, deliveries with retries and their log, and scheduled jobs.

-- Who receives events: a URL, the event kinds it wants, the division whose events it may see, and a
-- secret (AES-GCM encrypted) that signs every delivery. During a rotation the previous secret also
-- signs, until `previous_secret_until`.
CREATE TABLE webhook_subscribers (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{2,63}$'),
    url                   text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    kinds                 text[] NOT NULL CHECK (cardinality(kinds) BETWEEN 1 AND 50),
    division              char(6) NOT NULL,
    division_prefix       text NOT NULL,
    secret_enc            bytea NOT NULL,
    previous_secret_enc   bytea,
    previous_secret_until timestamptz,
    active                boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One fact that happened, for other systems. Rows are written by `services.events.publish` in the
-- caller's transaction: an event exists exactly when the change it reports committed.
CREATE TABLE event_outbox (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq          bigserial NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    subject_type text NOT NULL CHECK (subject_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    subject_id   text NOT NULL CHECK (length(subject_id) BETWEEN 1 AND 128),
    division     char(6),
    payload      jsonb NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_outbox_subject ON event_outbox (subject_type, subject_id, seq);
CREATE INDEX event_outbox_occurred ON event_outbox (occurred_at);

-- One event to one subscriber, created with the event. A worker claims a due delivery by setting
-- a lease (`leased_until`) in a short transaction of its own; a worker that dies leaves the lease
-- to expire, and the delivery is claimed again — at least once, never by two workers at once.
CREATE TABLE event_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL REFERENCES event_outbox (id) ON DELETE CASCADE,
    subscriber_id   uuid NOT NULL REFERENCES webhook_subscribers (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    leased_by       text,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscriber_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_subscriber ON event_deliveries (subscriber_id, status);

-- Every attempt, kept for the delivery log: when, what the receiver answered, how long it took.
CREATE TABLE event_delivery_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES event_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker      text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error       text,
    duration_ms integer NOT NULL
);
CREATE INDEX event_delivery_attempts_delivery ON event_delivery_attempts (delivery_id, id);

-- Scheduled jobs: when each runs next and how its last run went. A run holds an advisory lock for
-- its duration, so one worker at a time runs a job whatever the number of workers.
CREATE TABLE scheduled_jobs (
    name             text PRIMARY KEY,
    interval_seconds integer NOT NULL CHECK (interval_seconds > 0),
    next_run_at      timestamptz NOT NULL DEFAULT now(),
    last_started_at  timestamptz,
    last_finished_at timestamptz,
    last_outcome     text CHECK (last_outcome IN ('ok', 'failed')),
    last_summary     text,
    last_worker      text,
    runs             bigint NOT NULL DEFAULT 0
);
