-- Information change and information query (信息查询变更): the citizen's address, emergency contact and
-- bank account for benefit payments with the log of their changes; the data-sharing gateway's
-- requests, evidence previews and consents; and the demo providers' own tables.

-- == Information change ===========================================================================
-- Encrypted like the phone (AES-GCM, bound to the column), with a masked copy for answers.
ALTER TABLE citizens
    ADD COLUMN address_division         char(6),
    ADD COLUMN address_enc              bytea,
    ADD COLUMN address_masked           text,
    ADD COLUMN emergency_contact_enc    bytea,
    ADD COLUMN emergency_contact_masked jsonb,
    ADD COLUMN bank_name                text,
    ADD COLUMN bank_account_enc         bytea,
    ADD COLUMN bank_account_masked      text,
    ADD CONSTRAINT citizens_address_whole CHECK ((address_enc IS NULL) = (address_division IS NULL)),
    ADD CONSTRAINT citizens_bank_account_whole CHECK ((bank_account_enc IS NULL) = (bank_name IS NULL));

-- One change of one kind of information: when, at which assurance level, what it became (masked).
-- Its event (`citizen.<kind>_changed`) is published in the same transaction; the delivery log says
-- where it went.
CREATE TABLE citizen_information_changes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citizen_id      uuid NOT NULL REFERENCES citizens (id),
    kind            text NOT NULL CHECK (kind IN ('address', 'emergency_contact', 'bank_account')),
    assurance_level text NOT NULL CHECK (assurance_level IN ('L1', 'L2', 'L3')),
    masked          jsonb NOT NULL,
    event_id        uuid NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX citizen_information_changes_citizen ON citizen_information_changes (citizen_id, changed_at DESC);

-- == Information query: the data-sharing gateway ====================================================
-- A citizen's standing consent for one agency (a division's department) to ask providers for their
-- data for named purposes, until it expires or is withdrawn.
CREATE TABLE data_sharing_consents (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citizen_id         uuid NOT NULL REFERENCES citizens (id),
    requester_division char(6) NOT NULL,
    purposes           text[] NOT NULL CHECK (cardinality(purposes) BETWEEN 1 AND 20),
    providers          text[] NOT NULL CHECK (cardinality(providers) BETWEEN 1 AND 20),
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    withdrawn_at       timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX data_sharing_consents_citizen ON data_sharing_consents (citizen_id, created_at DESC);

-- Every request for a citizen's data: who asked (the citizen, or staff of an agency), which provider
-- (an id of the `data_providers` registry; no foreign key, it lives in another domain's migration),
-- which fields, for which purpose, on which basis. An agency's request holds the provider's answer
-- (encrypted) while the citizen previews it; refused or expired, the evidence is erased and nothing
-- is shared. The rows are the citizen's log of who asked what, when and why.
CREATE TABLE data_requests (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citizen_id         uuid NOT NULL REFERENCES citizens (id),
    provider_id        text NOT NULL CHECK (provider_id ~ '^[a-z0-9][a-z0-9_.-]{2,63}$'),
    fields             text[] NOT NULL CHECK (cardinality(fields) >= 1),
    purpose            text NOT NULL,
    basis              text NOT NULL CHECK (basis IN ('own-request', 'legal', 'consent')),
    legal_reference    text CHECK (length(legal_reference) BETWEEN 1 AND 200),
    consent_id         uuid REFERENCES data_sharing_consents (id),
    requester_kind     text NOT NULL CHECK (requester_kind IN ('citizen', 'staff')),
    requester_id       text NOT NULL,
    requester_division char(6),
    requester_role     text,
    case_reference     text CHECK (length(case_reference) BETWEEN 1 AND 64),
    state              text NOT NULL CHECK (state IN ('answered', 'awaiting-citizen', 'shared', 'refused', 'expired',
                                                      'failed')),
    failure            text CHECK (failure IN ('provider-unavailable', 'provider-timeout', 'no-record')),
    evidence_enc       bytea,
    disclosed          text[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    preview_expires_at timestamptz,
    decided_at         timestamptz,
    evidence_until     timestamptz,
    CHECK ((basis = 'legal') = (legal_reference IS NOT NULL)),
    CHECK ((basis = 'consent') = (consent_id IS NOT NULL)),
    CHECK ((state = 'failed') = (failure IS NOT NULL)),
    CHECK (state IN ('awaiting-citizen', 'shared') OR evidence_enc IS NULL),
    CHECK ((state = 'awaiting-citizen') <= (preview_expires_at IS NOT NULL))
);
CREATE INDEX data_requests_citizen ON data_requests (citizen_id, created_at DESC);
CREATE INDEX data_requests_requester ON data_requests (requester_kind, requester_id, created_at DESC);
CREATE INDEX data_requests_awaiting ON data_requests (preview_expires_at) WHERE state = 'awaiting-citizen';
CREATE INDEX data_requests_evidence ON data_requests (evidence_until) WHERE evidence_enc IS NOT NULL;

-- == Demo providers ================================================================================
-- The providers' own data, in a schema of their own: SAMPLE rows, keyed by the keyed hash of the
-- resident ID (no ID in clear). The gateway reaches them only through their adapters.
CREATE SCHEMA demo_providers;

CREATE TABLE demo_providers.social_insurance (
    person_key        bytea PRIMARY KEY,
    insured_division  char(6) NOT NULL,
    scheme            text NOT NULL,
    employer          text,
    first_paid_month  date NOT NULL,
    last_paid_month   date NOT NULL,
    paid_months       integer NOT NULL CHECK (paid_months >= 0),
    monthly_base      numeric(10, 2) NOT NULL
);

CREATE TABLE demo_providers.housing_fund (
    person_key         bytea PRIMARY KEY,
    centre_division    char(6) NOT NULL,
    account_status     text NOT NULL,
    employer           text,
    balance            numeric(12, 2) NOT NULL,
    monthly_deposit    numeric(10, 2) NOT NULL,
    last_deposit_month date
);

CREATE TABLE demo_providers.household_registration (
    person_key         bytea PRIMARY KEY,
    household_division char(6) NOT NULL,
    address            text NOT NULL,
    household_kind     text NOT NULL,
    relation_to_head   text NOT NULL,
    registered_on      date NOT NULL
);

CREATE TABLE demo_providers.driving_licence (
    person_key      bytea PRIMARY KEY,
    licence_class   text NOT NULL,
    licence_status  text NOT NULL,
    cycle_start     date NOT NULL,
    cycle_end       date NOT NULL,
    points_deducted integer NOT NULL CHECK (points_deducted BETWEEN 0 AND 12)
);
