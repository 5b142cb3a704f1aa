-- Township self-service kiosks (自助终端): registered devices that sign every request with their own
-- Ed25519 key, the residents' sessions at them, and their print jobs. Residents who sign in with an
-- ID card at a kiosk need no phone number, so a citizen's phone becomes optional.

CREATE TABLE kiosks (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    division_code     char(6) NOT NULL CHECK (division_code ~ '^[0-9]{6}$'),
    address           text NOT NULL CHECK (length(address) BETWEEN 1 AND 200),
    capabilities      text[] NOT NULL
                      CHECK (capabilities <@ ARRAY['reader', 'camera', 'printer', 'scanner']::text[]),
    -- Only the public half: the device makes its key pair and keeps the private half.
    public_key        bytea NOT NULL CHECK (length(public_key) = 32),
    key_version       integer NOT NULL DEFAULT 1,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    configuration     jsonb NOT NULL,
    health            jsonb NOT NULL DEFAULT '{}',
    last_heartbeat_at timestamptz,
    registered_by     text NOT NULL,
    registered_at     timestamptz NOT NULL DEFAULT now(),
    rekeyed_at        timestamptz,
    revoked_at        timestamptz,
    revoked_reason    text,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX kiosks_division ON kiosks (division_code);
-- The same public key is never registered for two devices.
CREATE UNIQUE INDEX kiosks_public_key ON kiosks (public_key);

-- A resident's session at one kiosk: the auth session it rides on, the card that opened it, and
-- who assisted (帮办代办: a staff member or an authorised relative), if anyone.
CREATE TABLE kiosk_sessions (
    session_id       uuid PRIMARY KEY REFERENCES auth_sessions (id) ON DELETE CASCADE,
    kiosk_id         uuid NOT NULL REFERENCES kiosks (id),
    citizen_id       uuid NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
    card_hash        bytea NOT NULL,
    assistant_kind   text CHECK (assistant_kind IN ('staff', 'relative')),
    assistant_id     uuid,
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    end_reason       text CHECK (end_reason IN ('card-removed', 'idle-timeout', 'signed-out', 'kiosk-revoked',
                                                'replaced')),
    CHECK ((assistant_kind IS NULL) = (assistant_id IS NULL)),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
CREATE INDEX kiosk_sessions_kiosk ON kiosk_sessions (kiosk_id) WHERE ended_at IS NULL;

-- A print job is a record: asked for once per (kiosk, idempotency key), printed at most once. The
-- document is rendered when the device fetches it, never stored.
CREATE TABLE kiosk_print_jobs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kiosk_id        uuid NOT NULL REFERENCES kiosks (id),
    citizen_id      uuid NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
    session_id      uuid REFERENCES auth_sessions (id) ON DELETE SET NULL,
    idempotency_key text NOT NULL CHECK (idempotency_key ~ '^[!-~]{1,255}$'),
    document_kind   text NOT NULL CHECK (document_kind IN ('certificate', 'case-receipt')),
    document_id     text NOT NULL,
    copies          smallint NOT NULL DEFAULT 1 CHECK (copies BETWEEN 1 AND 3),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'printing', 'waiting', 'printed', 'failed', 'cancelled')),
    waiting_reason  text CHECK (waiting_reason IN ('out-of-paper', 'paper-jam', 'printer-offline')),
    attempts        smallint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    printed_at      timestamptz,
    UNIQUE (kiosk_id, idempotency_key),
    CHECK ((status = 'waiting') = (waiting_reason IS NOT NULL))
);
CREATE INDEX kiosk_print_jobs_pending ON kiosk_print_jobs (kiosk_id, created_at)
    WHERE status IN ('queued', 'printing', 'waiting');

-- Residents without a phone (signed in with an ID card at a kiosk): all three phone columns or none.
ALTER TABLE citizens
    ALTER COLUMN phone_enc DROP NOT NULL,
    ALTER COLUMN phone_hash DROP NOT NULL,
    ALTER COLUMN phone_masked DROP NOT NULL,
    ADD CONSTRAINT citizens_phone_complete
        CHECK ((phone_enc IS NULL) = (phone_hash IS NULL) AND (phone_hash IS NULL) = (phone_masked IS NULL));

-- A face reference may also be enrolled at a kiosk from the ID card's chip photo, with the resident's
-- separate consent and no staff member present: then the kiosk is recorded instead.
ALTER TABLE face_enrolments
    ALTER COLUMN enrolled_by DROP NOT NULL,
    ADD COLUMN enrolled_kiosk uuid REFERENCES kiosks (id),
    DROP CONSTRAINT face_enrolments_source_check,
    ADD CONSTRAINT face_enrolments_source_check CHECK (source IN ('service_window', 'kiosk_chip_photo')),
    ADD CONSTRAINT face_enrolments_enrolled_where
        CHECK ((source = 'service_window' AND enrolled_by IS NOT NULL AND enrolled_kiosk IS NULL)
            OR (source = 'kiosk_chip_photo' AND enrolled_by IS NULL AND enrolled_kiosk IS NOT NULL));
