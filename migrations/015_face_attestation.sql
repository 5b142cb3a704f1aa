-- Attested captures (docs/face-verification.md, "Attested captures"): phone installations whose key
-- was proven to live in secure hardware and to belong to our app, and the provenance of the capture
-- each face step-up of a session was made on, so that a use can demand attested or kiosk captures.

-- One attested key of our app on one phone, registered by the citizen who signed in on it. Only the
-- public key is kept; revoking blocks it for good (a new registration makes a new key).
CREATE TABLE face_installations (
    id                uuid PRIMARY KEY,
    citizen_id        uuid NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('android-key-attestation', 'app-attest')),
    key_id            bytea NOT NULL UNIQUE,  -- SHA-256 of the public key (App Attest: its key id)
    public_key        bytea NOT NULL,         -- DER SubjectPublicKeyInfo
    app_id            text NOT NULL,          -- Android package name, or Apple team id + bundle id
    attested          jsonb NOT NULL,         -- what the attestation said: security level, boot state, environment
    counter           bigint NOT NULL DEFAULT 0,  -- App Attest: the last assertion counter seen
    registered_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at      timestamptz,
    revoked_at        timestamptz,
    revoked_by        text,
    revocation_reason text
);
CREATE INDEX face_installations_citizen ON face_installations (citizen_id);

-- The capture behind each level a session was stepped up to by a face check (the latest wins).
CREATE TABLE face_session_captures (
    session_id      uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    level           text NOT NULL CHECK (level IN ('L2', 'L3')),
    capture         text NOT NULL,
    installation_id uuid REFERENCES face_installations (id) ON DELETE SET NULL,
    verified_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, level)
);
