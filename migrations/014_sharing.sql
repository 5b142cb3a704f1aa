-- Annual filings (年审年报): organisations and who acts for them, annual obligations, filings with
-- their drafts, submissions, receipts and amendments, and the reminders sent before a window closes.

-- == Organisations ================================================================================
-- An organisation is known by its GB 32100 unified social credit code; its division is the one the
-- code was registered in (characters 3–8).
CREATE TABLE organisations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    credit_code   char(18) NOT NULL UNIQUE
                  CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    division_code char(6) NOT NULL CHECK (division_code = substr(credit_code, 3, 6)),
    registered_by text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisations_division ON organisations (division_code);

-- Citizens who act for an organisation: its legal representative (one at a time) and the filers the
-- representative authorises. Revoked rows stay, for the record of who could act when.
CREATE TABLE organisation_representatives (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    citizen_id      uuid NOT NULL REFERENCES citizens (id),
    role            text NOT NULL CHECK (role IN ('legal_representative', 'filer')),
    granted_by      text NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    revoked_by      text,
    revoked_at      timestamptz,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE UNIQUE INDEX organisation_representatives_one_legal ON organisation_representatives (organisation_id)
    WHERE role = 'legal_representative' AND revoked_at IS NULL;
CREATE UNIQUE INDEX organisation_representatives_active ON organisation_representatives (organisation_id, citizen_id)
    WHERE revoked_at IS NULL;
CREATE INDEX organisation_representatives_citizen ON organisation_representatives (citizen_id)
    WHERE revoked_at IS NULL;

-- == Obligations ==================================================================================
-- One subject's duty to file one kind every year from `first_period` (through `last_period` when it
-- ends), received by the authority of `division_code`. Kinds and their windows are data in
-- backend/filings/data/obligation_kinds.json.
CREATE TABLE filing_obligations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{1,63}$'),
    organisation_id uuid REFERENCES organisations (id),
    citizen_id      uuid REFERENCES citizens (id),
    division_code   char(6) NOT NULL,
    reference       text CHECK (length(reference) BETWEEN 1 AND 32),  -- the licence's or benefit's own number
    anchor_date     date,                                              -- for windows counted from an anniversary
    first_period    integer NOT NULL CHECK (first_period BETWEEN 2000 AND 2100),
    last_period     integer CHECK (last_period >= first_period),
    registered_by   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((organisation_id IS NULL) <> (citizen_id IS NULL)),
    UNIQUE NULLS NOT DISTINCT (kind, organisation_id, citizen_id, reference)
);
CREATE INDEX filing_obligations_scope ON filing_obligations (kind, division_code);
CREATE INDEX filing_obligations_organisation ON filing_obligations (organisation_id) WHERE organisation_id IS NOT NULL;
CREATE INDEX filing_obligations_citizen ON filing_obligations (citizen_id) WHERE citizen_id IS NOT NULL;

-- == Filings ======================================================================================
-- A filing for one obligation and period: a draft (at most one at a time; discarding deletes it) until
-- submitted; a submitted filing never changes again. An amendment is a new filing that `amends` the one before;
-- submitting it marks that one `amended` and leaves its content as it was. The form is stored
-- AES-GCM encrypted (it may hold resident ID and phone numbers).
CREATE SEQUENCE filing_receipt_serial;

CREATE TABLE filings (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    obligation_id  uuid NOT NULL REFERENCES filing_obligations (id),
    period         integer NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    state          text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'submitted', 'amended')),
    amends         uuid REFERENCES filings (id),
    form_enc       bytea NOT NULL,
    form_digest    bytea CHECK (length(form_digest) = 32),  -- SHA-256 of the submitted form, printed on the receipt
    receipt_number text UNIQUE,
    late           boolean,
    created_by     uuid NOT NULL REFERENCES citizens (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    submitted_by   uuid REFERENCES citizens (id),
    submitted_at   timestamptz,
    amended_at     timestamptz,
    CHECK ((state = 'draft') = (submitted_at IS NULL)),
    CHECK (submitted_at IS NULL OR (receipt_number IS NOT NULL AND form_digest IS NOT NULL AND late IS NOT NULL
                                    AND submitted_by IS NOT NULL)),
    CHECK ((state = 'amended') = (amended_at IS NOT NULL))
);
CREATE UNIQUE INDEX filings_one_draft ON filings (obligation_id, period) WHERE state = 'draft';
CREATE UNIQUE INDEX filings_one_current ON filings (obligation_id, period) WHERE state = 'submitted';
CREATE INDEX filings_obligation ON filings (obligation_id, period, created_at);

-- A submitted filing is the record: its content never changes and it is never deleted; only an
-- amendment may move it on to 'amended'.
CREATE FUNCTION filings_keep_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'a % filing is never deleted', OLD.state USING HINT = 'filing-immutable';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'draft' AND (
           (NEW.obligation_id, NEW.period, NEW.amends, NEW.form_enc, NEW.form_digest, NEW.receipt_number, NEW.late,
            NEW.created_by, NEW.submitted_by, NEW.submitted_at)
           IS DISTINCT FROM
           (OLD.obligation_id, OLD.period, OLD.amends, OLD.form_enc, OLD.form_digest, OLD.receipt_number, OLD.late,
            OLD.created_by, OLD.submitted_by, OLD.submitted_at)
           OR NOT (NEW.state = OLD.state OR (OLD.state = 'submitted' AND NEW.state = 'amended'))) THEN
        RAISE EXCEPTION 'a % filing cannot change', OLD.state USING HINT = 'filing-immutable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER filings_immutable BEFORE UPDATE OR DELETE ON filings
    FOR EACH ROW EXECUTE FUNCTION filings_keep_submitted();

-- Reminders sent before a window closes: one per obligation, period and stage, whoever runs the job.
CREATE TABLE filing_reminders (
    obligation_id uuid NOT NULL REFERENCES filing_obligations (id),
    period        integer NOT NULL,
    stage         text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (obligation_id, period, stage)
);

-- What a period of an obligation stands at, the one definition both the filer's and the staff's views
-- read: the first submission (and whether it was late), the current submission, the open draft.
CREATE FUNCTION filing_period_summary(obligation uuid, for_period integer,
                                      OUT first_late boolean, OUT filed_at timestamptz, OUT current_id uuid,
                                      OUT receipt_number text, OUT draft_id uuid)
    LANGUAGE sql STABLE AS $$
    SELECT (array_agg(f.late ORDER BY f.submitted_at) FILTER (WHERE f.amends IS NULL AND f.state <> 'draft'))[1],
           (array_agg(f.submitted_at ORDER BY f.submitted_at) FILTER (WHERE f.amends IS NULL AND f.state <> 'draft'))[1],
           (array_agg(f.id) FILTER (WHERE f.state = 'submitted'))[1],
           (array_agg(f.receipt_number) FILTER (WHERE f.state = 'submitted'))[1],
           (array_agg(f.id) FILTER (WHERE f.state = 'draft'))[1]
    FROM filings f WHERE f.obligation_id = obligation AND f.period = for_period
$$;

-- A period's status on `today`: filed or late once first submitted (an amendment changes neither),
-- else not-open, due or missing by the window.
CREATE FUNCTION filing_status(first_late boolean, opens date, closes date, today date) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN first_late THEN 'late'
                WHEN NOT first_late THEN 'filed'
                WHEN today < opens THEN 'not-open'
                WHEN today <= closes THEN 'due'
                ELSE 'missing' END
$$;

-- The anniversary of `anchor` in `year`, as `backend/filings/obligations.anniversary` counts it
-- (29 February falls on 1 March in a common year).
CREATE FUNCTION filing_anniversary(anchor date, year integer) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT make_date(year, extract(month FROM anchor)::int, 1) + (extract(day FROM anchor)::int - 1)
$$;
