-- Identity, sessions, idempotency and the audit chain.

CREATE TABLE citizens (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    resident_id_enc    bytea NOT NULL,
    resident_id_hash   bytea NOT NULL UNIQUE,
    resident_id_masked text NOT NULL,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    phone_enc          bytea NOT NULL,
    phone_hash         bytea NOT NULL UNIQUE,
    phone_masked       text NOT NULL,
    home_division      char(6) NOT NULL,
    birth_date         date NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX citizens_home_division ON citizens (home_division);

CREATE TABLE staff (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,64}$'),
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('receiving_officer', 'handling_officer', 'supervisor', 'admin')),
    division_code char(6) NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One signed-in session of a citizen, staff member or kiosk; refresh tokens rotate within it.
CREATE TABLE auth_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    principal_kind  text NOT NULL CHECK (principal_kind IN ('citizen', 'staff', 'kiosk')),
    principal_id    uuid NOT NULL,
    assurance_level text NOT NULL DEFAULT 'L1' CHECK (assurance_level IN ('L1', 'L2', 'L3')),
    elevated_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX auth_sessions_principal ON auth_sessions (principal_kind, principal_id);

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- The development SMS gateway delivers here instead of to a phone.
CREATE TABLE sms_outbox (
    id           bigserial PRIMARY KEY,
    phone_hash   bytea NOT NULL,
    phone_masked text NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_outbox_phone ON sms_outbox (phone_hash, id DESC);

-- A retried create returns the first answer; stored in the same transaction as what it created.
CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

-- Append-only, hash-chained audit log. `hash` = HMAC(audit key, prev_hash || canonical entry).
CREATE TABLE audit_log (
    seq           bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_kind    text NOT NULL CHECK (actor_kind IN ('citizen', 'staff', 'kiosk', 'system', 'anonymous')),
    actor_id      text,
    action        text NOT NULL,
    record_type   text NOT NULL,
    record_id     text,
    division_code text,
    request_id    text,
    detail        jsonb NOT NULL DEFAULT '{}',
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL
);
CREATE INDEX audit_log_record ON audit_log (record_type, record_id);
CREATE INDEX audit_log_actor ON audit_log (actor_kind, actor_id);

-- The newest entry, so that cutting entries off the end of the chain is detected too.
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       bigint NOT NULL,
    hash      bytea NOT NULL,
    seal      bytea NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
