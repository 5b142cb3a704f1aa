-- Signed hand-over records of cases (办件交接记录): who held a case when, provable without the paper
-- trail of 双向快递. See docs/cases.md, "Exchange records".

-- A province's exchange key is a signing key like the others (same wrapping, same standby → active →
-- retired / withdrawn life, published in the same signed trust list), owned by a province instead of
-- an issuing authority: purpose 'case-exchange', `province` set, `authority_id` NULL.
ALTER TABLE certificate_keys ADD COLUMN province char(6) CHECK (province ~ '^\d{2}0000$');
ALTER TABLE certificate_keys DROP CONSTRAINT certificate_keys_purpose_check;
ALTER TABLE certificate_keys ADD CONSTRAINT certificate_keys_purpose_check
    CHECK (purpose IN ('certificate', 'trust-anchor', 'case-exchange'));
ALTER TABLE certificate_keys ADD CONSTRAINT certificate_keys_province_owner
    CHECK ((purpose = 'case-exchange') = (province IS NOT NULL));
DROP INDEX certificate_keys_one_active;
CREATE UNIQUE INDEX certificate_keys_one_active
    ON certificate_keys (purpose, coalesce(authority_id, province, '')) WHERE status = 'active';

-- One case's chain: hand-overs signed by the sending province, each followed by the receiving
-- province's countersign (acceptance or refusal). `body` is the canonical JSON exactly as signed;
-- `digest` = SHA-256(body), which the next entry's body names as `prev`. Rows are only ever inserted.
CREATE TABLE case_exchanges (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id        uuid NOT NULL,   -- no foreign key here: `cases` is another stream's migration
    case_number    text NOT NULL,
    seq            integer NOT NULL CHECK (seq >= 1),
    kind           text NOT NULL CHECK (kind IN ('handover', 'acceptance')),
    body           bytea NOT NULL,
    digest         bytea NOT NULL CHECK (length(digest) = 32),
    signature      bytea NOT NULL CHECK (length(signature) = 64),
    signing_key_id uuid NOT NULL REFERENCES certificate_keys (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (case_id, seq)
);
CREATE INDEX case_exchanges_number ON case_exchanges (case_number, seq);
