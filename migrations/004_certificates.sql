-- Electronic certificates (电子证照): issuing authorities and their signing keys, certificates and
-- their revocation, holders' consents for third-party checks (证明证照查验) and the log of those checks.

-- A department of a division that issues certificates, e.g. `330000-rst` (浙江省人力资源和社会保障厅).
CREATE TABLE certificate_authorities (
    id                text PRIMARY KEY CHECK (id ~ '^\d{6}-[a-z][a-z0-9]{1,15}$'),
    name              text NOT NULL CHECK (length(name) BETWEEN 2 AND 64),
    division_code     char(6) NOT NULL CHECK (division_code = left(id, 6)),
    certificate_types text[] NOT NULL CHECK (cardinality(certificate_types) > 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Ed25519 keys: an authority's certificate-signing keys, and the trust-anchor keys that sign the
-- trust list and the revocation list. Private keys are stored wrapped (AES-GCM, `signing_key_kek`).
-- standby: published, not yet signing; active: signing (one per authority or anchor); retired: signs
-- nothing new, still published until the last certificate it signed expires; withdrawn: compromised
-- or abandoned, published nowhere.
CREATE TABLE certificate_keys (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    purpose             text NOT NULL CHECK (purpose IN ('certificate', 'trust-anchor')),
    authority_id        text REFERENCES certificate_authorities (id),
    kid                 bytea NOT NULL CHECK (length(kid) = 8),
    public_key          bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    private_key_wrapped bytea NOT NULL,
    status              text NOT NULL CHECK (status IN ('standby', 'active', 'retired', 'withdrawn')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    activated_at        timestamptz,
    retired_at          timestamptz,
    withdrawn_at        timestamptz,
    CHECK ((purpose = 'certificate') = (authority_id IS NOT NULL))
);
-- A kid is 8 bytes of a hash: two keys may share one, so it is indexed, not unique.
CREATE INDEX certificate_keys_kid ON certificate_keys (kid);
CREATE INDEX certificate_keys_authority ON certificate_keys (authority_id, created_at);
CREATE UNIQUE INDEX certificate_keys_one_active ON certificate_keys (purpose, coalesce(authority_id, ''))
    WHERE status = 'active';

-- Certificate numbers: `<authority>-<year>-<serial>`; one sequence, so issuing takes no lock.
CREATE SEQUENCE certificate_serial;

CREATE TABLE certificates (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number            text NOT NULL UNIQUE,
    certificate_type  text NOT NULL,
    authority_id      text NOT NULL REFERENCES certificate_authorities (id),
    signing_key_id    uuid NOT NULL REFERENCES certificate_keys (id),
    holder_kind       text NOT NULL CHECK (holder_kind IN ('citizen', 'organisation')),
    citizen_id        uuid REFERENCES citizens (id),
    holder_name       text NOT NULL,
    holder_identifier text NOT NULL,   -- masked resident ID, or the organisation's full credit code
    fields            jsonb NOT NULL,
    issued_at         timestamptz NOT NULL,
    valid_from        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL CHECK (expires_at > valid_from),
    qr_text           text NOT NULL,
    reference         text,            -- the caller's idempotency reference, e.g. `case:<id>`
    case_id           uuid,            -- no foreign key: cases live in another domain's migration
    issued_by         text NOT NULL,
    revoked_at        timestamptz,
    revocation_reason text CHECK (revocation_reason IN
                          ('superseded', 'withdrawn', 'issued-in-error', 'holder-request', 'fraud', 'other')),
    revocation_note   text,
    revoked_by        text,
    CHECK ((holder_kind = 'citizen') = (citizen_id IS NOT NULL)),
    CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL)),
    UNIQUE (authority_id, reference)
);
CREATE INDEX certificates_citizen ON certificates (citizen_id, issued_at DESC) WHERE citizen_id IS NOT NULL;
-- The trust list asks each retired key for the last expiry among the certificates it signed.
CREATE INDEX certificates_signing_key ON certificates (signing_key_id, expires_at DESC);
CREATE INDEX certificates_revoked ON certificates (expires_at) WHERE revoked_at IS NOT NULL;

-- A holder's consent for one relying party to see chosen fields of one certificate, a few times.
-- Only a hash of the token is kept; `uses` is counted by a single conditional UPDATE.
CREATE TABLE certificate_consents (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash     bytea NOT NULL UNIQUE,
    certificate_id uuid NOT NULL REFERENCES certificates (id),
    citizen_id     uuid NOT NULL REFERENCES citizens (id),
    relying_party  text NOT NULL,
    scopes         text[] NOT NULL,
    purpose        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    max_uses       integer NOT NULL CHECK (max_uses BETWEEN 1 AND 100),
    uses           integer NOT NULL DEFAULT 0 CHECK (uses BETWEEN 0 AND max_uses),
    withdrawn_at   timestamptz
);
CREATE INDEX certificate_consents_certificate ON certificate_consents (certificate_id, created_at DESC);

-- Every presentation of a consent token, answered or refused, for the holder to see.
CREATE TABLE certificate_checks (
    id             bigserial PRIMARY KEY,
    consent_id     uuid NOT NULL REFERENCES certificate_consents (id),
    certificate_id uuid NOT NULL REFERENCES certificates (id),
    citizen_id     uuid NOT NULL REFERENCES citizens (id),
    presented_by   text NOT NULL,
    client         text NOT NULL,
    checked_at     timestamptz NOT NULL DEFAULT now(),
    outcome        text NOT NULL CHECK (outcome IN ('answered', 'expired', 'used-up', 'withdrawn')),
    disclosed      text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX certificate_checks_citizen ON certificate_checks (citizen_id, checked_at DESC);
