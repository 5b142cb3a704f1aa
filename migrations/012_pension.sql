-- Pension eligibility recognition (养老金领取资格认证): paying agencies and their rosters, recognitions
-- by every method, the agency's suspension decisions, authorised relatives, the separate consent to
-- face recognition, data providers and their signs of life, visit bookings, reminders, service points.

-- The role that runs a roster: a paying agency's officer, scoped to the agency's division.
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check
    CHECK (role IN ('receiving_officer', 'handling_officer', 'supervisor', 'admin', 'pension_officer'));

-- A paying agency (a province's or city's social-security office), named by its division.
CREATE TABLE pension_agencies (
    division             char(6) PRIMARY KEY,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    authority_id         text REFERENCES certificate_authorities (id),
    window_months        smallint NOT NULL DEFAULT 12 CHECK (window_months BETWEEN 1 AND 24),
    opens_days_before    smallint NOT NULL DEFAULT 90 CHECK (opens_days_before BETWEEN 0 AND 366),
    due_soon_days        smallint NOT NULL DEFAULT 30 CHECK (due_soon_days BETWEEN 1 AND 180),
    silent_signal_kinds  text[] NOT NULL DEFAULT '{}',
    silent_max_age_days  smallint NOT NULL DEFAULT 90 CHECK (silent_max_age_days BETWEEN 1 AND 366),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One pensioner on one agency's roster, with the division where they live now.
CREATE TABLE pension_roster (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_division     char(6) NOT NULL REFERENCES pension_agencies (division),
    citizen_id          uuid NOT NULL REFERENCES citizens (id),
    residence_division  char(6) NOT NULL,
    scheme              text NOT NULL CHECK (scheme IN ('employee', 'resident', 'public_institution')),
    status              text NOT NULL DEFAULT 'paying' CHECK (status IN ('paying', 'suspended', 'stopped')),
    stop_reason         text CHECK (stop_reason IN ('deceased', 'emigrated', 'transferred', 'other')),
    last_recognised_on  date,
    next_due            date NOT NULL,
    data_issue          text CHECK (length(data_issue) <= 500),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agency_division, citizen_id),
    CHECK ((status = 'stopped') = (stop_reason IS NOT NULL))
);
CREATE INDEX pension_roster_citizen ON pension_roster (citizen_id);
CREATE INDEX pension_roster_due ON pension_roster (agency_division, next_due) WHERE status <> 'stopped';
CREATE INDEX pension_roster_residence ON pension_roster (residence_division);

-- One recognition: how, where, on what evidence (scores and references, never images), by whom.
CREATE TABLE pension_recognitions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entry_id         uuid NOT NULL REFERENCES pension_roster (id),
    method           text NOT NULL CHECK (method IN ('face-phone', 'family-proxy', 'kiosk', 'assisted-counter',
                                                     'home-visit', 'silent')),
    recognised_on    date NOT NULL,
    recognised_at    timestamptz NOT NULL DEFAULT now(),
    place_division   char(6),
    evidence         jsonb NOT NULL,
    actor_kind       text NOT NULL,
    actor_id         text,
    proxy_citizen_id uuid REFERENCES citizens (id),
    staff_id         uuid REFERENCES staff (id),
    certificate_id   uuid REFERENCES certificates (id),
    event_id         uuid,
    next_due         date NOT NULL
);
CREATE INDEX pension_recognitions_entry ON pension_recognitions (entry_id, recognised_at DESC);

-- The agency officer's decisions: a suspension (never automatic) and its lifting with back-payment.
CREATE TABLE pension_decisions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entry_id       uuid NOT NULL REFERENCES pension_roster (id),
    decision       text NOT NULL CHECK (decision IN ('suspended', 'resumed')),
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    suspended_from date,
    back_pay_from  date,
    back_pay_to    date,
    recognition_id uuid REFERENCES pension_recognitions (id),
    decided_by     uuid REFERENCES staff (id),
    decided_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pension_decisions_entry ON pension_decisions (entry_id, decided_at DESC);

-- Authorised relatives (亲情代办): a citizen authorises another to act for them; revocable.
CREATE TABLE authorised_relatives (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    citizen_id          uuid NOT NULL REFERENCES citizens (id),
    relative_id         uuid NOT NULL REFERENCES citizens (id),
    relationship        text NOT NULL CHECK (relationship IN ('spouse', 'child', 'parent', 'sibling', 'grandchild',
                                                                'other')),
    authorised_via      text NOT NULL CHECK (authorised_via IN ('self-l3', 'service-window')),
    authorised_by_staff uuid REFERENCES staff (id),
    authorised_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    CHECK (citizen_id <> relative_id)
);
CREATE UNIQUE INDEX authorised_relatives_active ON authorised_relatives (citizen_id, relative_id) WHERE revoked_at IS NULL;
CREATE INDEX authorised_relatives_relative ON authorised_relatives (relative_id) WHERE revoked_at IS NULL;

-- The separate, withdrawable consent to face recognition for a purpose (《人脸识别技术应用安全管理办法》).
CREATE TABLE face_recognition_consents (
    citizen_id   uuid NOT NULL REFERENCES citizens (id),
    purpose      text NOT NULL CHECK (purpose IN ('pension-recognition')),
    wording      text NOT NULL,
    given_at     timestamptz NOT NULL DEFAULT now(),
    given_via    text NOT NULL,
    withdrawn_at timestamptz,
    PRIMARY KEY (citizen_id, purpose)
);

-- Registered data providers (a medical-insurance centre, a bank, a service hall) and their credential.
CREATE TABLE data_providers (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_.-]{2,63}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    division        char(6) NOT NULL,
    signal_kinds    text[] NOT NULL,
    credential_hash bytea NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A sign of life a provider reported: who (resolved from the resident ID's keyed hash), what, when, where.
CREATE TABLE life_signals (
    id               bigserial PRIMARY KEY,
    provider_id      text NOT NULL REFERENCES data_providers (id),
    citizen_id       uuid NOT NULL REFERENCES citizens (id),
    kind             text NOT NULL,
    occurred_on      date NOT NULL,
    place_division   char(6) NOT NULL,
    source_reference text NOT NULL CHECK (length(source_reference) BETWEEN 1 AND 128),
    received_at      timestamptz NOT NULL DEFAULT now(),
    used_by          uuid REFERENCES pension_recognitions (id),
    UNIQUE (provider_id, source_reference)
);
CREATE INDEX life_signals_citizen ON life_signals (citizen_id, occurred_on DESC);
CREATE INDEX life_signals_received ON life_signals (received_at);

-- Where a person can go: service windows (and, from the kiosk stream, kiosks) by division.
CREATE TABLE service_points (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_.-]{2,63}$'),
    kind       text NOT NULL CHECK (kind IN ('service-window', 'kiosk')),
    division   char(6) NOT NULL,
    name       text NOT NULL,
    address    text NOT NULL,
    hours      text,
    active     boolean NOT NULL DEFAULT true
);
CREATE INDEX service_points_division ON service_points (division) WHERE active;

-- A booked assisted or home visit: residence-division staff see and complete it.
CREATE TABLE visit_bookings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entry_id          uuid NOT NULL REFERENCES pension_roster (id),
    kind              text NOT NULL CHECK (kind IN ('assisted-counter', 'home-visit')),
    residence_division char(6) NOT NULL,
    slot_date         date NOT NULL,
    slot_part         text NOT NULL CHECK (slot_part IN ('morning', 'afternoon')),
    note              text CHECK (length(note) <= 300),
    status            text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'completed', 'cancelled')),
    booked_by_kind    text NOT NULL,
    booked_by         text NOT NULL,
    recognition_id    uuid REFERENCES pension_recognitions (id),
    completed_by      uuid REFERENCES staff (id),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_bookings_residence ON visit_bookings (residence_division, slot_date) WHERE status = 'booked';
CREATE UNIQUE INDEX visit_bookings_one_open ON visit_bookings (entry_id) WHERE status = 'booked';

-- Reminders sent, so each (entry, kind, due date) is sent once whatever the number of runs.
CREATE TABLE pension_reminders (
    entry_id  uuid NOT NULL REFERENCES pension_roster (id),
    kind      text NOT NULL CHECK (kind IN ('due-30', 'due-7', 'overdue')),
    due_date  date NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entry_id, kind, due_date)
);

-- The sample item 养老金领取资格认证 (RS-20-004-00) results in the pension-eligibility e-certificate; a
-- database loaded before this names no certificate type for it.
INSERT INTO catalogue_certificate_types (code, name, sample)
SELECT 'pension_eligibility_record', '养老金领取资格认证记录', true
WHERE EXISTS (SELECT 1 FROM catalogue_items WHERE code = 'RS-20-004-00')
ON CONFLICT (code) DO NOTHING;
UPDATE catalogue_items
SET standard = jsonb_set(standard, '{result,e_certificate_type}', '"pension_eligibility_record"'), updated_at = now()
WHERE code = 'RS-20-004-00' AND standard #>> '{result,e_certificate_type}' IS NULL;
