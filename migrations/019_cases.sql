-- Cross-province cases (办件): one application for one item, received at one division and decided at
-- another, in one of three modes. The workflow is data (`case_transitions`), applied by
-- `backend/cases/workflow.py` alone; every move is an event row (the timeline) written in the same
-- transaction as the case's new state, its audit entry and the citizen's notification.

-- The state machine: from a state, an action leads to one state, for the roles and modes listed.
-- `citizen` names the applicant; staff roles are those of the `staff` table.
CREATE TABLE case_transitions (
    from_state text NOT NULL,
    action     text NOT NULL,
    to_state   text NOT NULL,
    roles      text[] NOT NULL CHECK (cardinality(roles) > 0),
    modes      text[] NOT NULL CHECK (cardinality(modes) > 0 AND modes <@ ARRAY['online', 'proxy', 'joint']),
    PRIMARY KEY (from_state, action)
);
INSERT INTO case_transitions (from_state, action, to_state, roles, modes) VALUES
    -- 收件: the receiving place checks the materials against the receipt standard (proxy, joint)
    ('submitted',            'receive',            'received',             '{receiving_officer}', '{proxy,joint}'),
    ('submitted',            'refuse_receipt',     'refused',              '{receiving_officer}', '{proxy,joint}'),
    ('received',             'hand_over',          'handed_over',          '{receiving_officer}', '{proxy,joint}'),
    -- 受理: the handling place accepts what was handed over (or, online, what was submitted)
    ('handed_over',          'accept',             'accepted',             '{handling_officer}',  '{proxy,joint}'),
    ('handed_over',          'refuse',             'refused',              '{handling_officer}',  '{proxy,joint}'),
    ('submitted',            'accept',             'accepted',             '{handling_officer}',  '{online}'),
    ('submitted',            'refuse',             'refused',              '{handling_officer}',  '{online}'),
    -- 审查, 补正 once and complete, 决定
    ('accepted',             'start_review',       'in_review',            '{handling_officer}',  '{online,proxy,joint}'),
    ('in_review',            'request_supplement', 'supplement_requested', '{handling_officer}',  '{online,proxy,joint}'),
    ('supplemented',         'request_supplement', 'supplement_requested', '{handling_officer}',  '{online,proxy,joint}'),
    ('supplement_requested', 'supplement',         'supplemented',         '{citizen}',           '{online,proxy,joint}'),
    ('in_review',            'approve',            'approved',             '{handling_officer}',  '{online,proxy,joint}'),
    ('supplemented',         'approve',            'approved',             '{handling_officer}',  '{online,proxy,joint}'),
    ('in_review',            'reject',             'rejected',             '{handling_officer}',  '{online,proxy,joint}'),
    ('supplemented',         'reject',             'rejected',             '{handling_officer}',  '{online,proxy,joint}'),
    -- 送达 and 办结
    ('approved',             'deliver',            'delivered',            '{handling_officer,receiving_officer}', '{online,proxy,joint}'),
    ('delivered',            'close',              'closed',               '{handling_officer,receiving_officer}', '{online,proxy,joint}'),
    ('rejected',             'close',              'closed',               '{handling_officer,receiving_officer}', '{online,proxy,joint}'),
    -- The applicant withdraws before a decision.
    ('submitted',            'withdraw',           'withdrawn',            '{citizen}',           '{online,proxy,joint}'),
    ('received',             'withdraw',           'withdrawn',            '{citizen}',           '{proxy,joint}'),
    ('handed_over',          'withdraw',           'withdrawn',            '{citizen}',           '{proxy,joint}'),
    ('accepted',             'withdraw',           'withdrawn',            '{citizen}',           '{online,proxy,joint}'),
    ('in_review',            'withdraw',           'withdrawn',            '{citizen}',           '{online,proxy,joint}'),
    ('supplement_requested', 'withdraw',           'withdrawn',            '{citizen}',           '{online,proxy,joint}'),
    ('supplemented',         'withdraw',           'withdrawn',            '{citizen}',           '{online,proxy,joint}');

-- National case numbers: receiving division, China date, then a national serial.
CREATE SEQUENCE case_number_seq;

CREATE TABLE cases (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number               text NOT NULL UNIQUE,
    item_code            text NOT NULL REFERENCES catalogue_items (code),
    item_name            text NOT NULL,
    mode                 text NOT NULL CHECK (mode IN ('online', 'proxy', 'joint')),
    citizen_id           uuid NOT NULL REFERENCES citizens (id),
    receiving_division   char(6) NOT NULL,
    handling_division    char(6) NOT NULL,
    state                text NOT NULL DEFAULT 'submitted' CHECK (state IN (
                             'submitted', 'received', 'refused', 'handed_over', 'accepted', 'in_review',
                             'supplement_requested', 'supplemented', 'approved', 'rejected', 'delivered',
                             'closed', 'withdrawn')),
    -- The form as submitted, encrypted (personal data); its digest travels in exchange records.
    form_enc             bytea NOT NULL,
    form_digest          bytea NOT NULL,
    form_schema_source   text NOT NULL,
    -- The item's result as its standard says when the case was made: an e-certificate type or none.
    result_kind          text NOT NULL,
    e_certificate_type   text,
    supplement_count     integer NOT NULL DEFAULT 0,
    -- Deadline in working days (receipt standard time_limit.working_days), counted from acceptance;
    -- the clock stops while a 补正 request is open (`paused_since`), and `deadline` moves on when it is
    -- answered. `calendar_estimated`: a year in the count had no holiday table (Monday–Friday used).
    time_limit_days      integer NOT NULL,
    deadline             date,
    calendar_estimated   boolean NOT NULL DEFAULT false,
    paused_since         timestamptz,
    decision             text CHECK (decision IN ('approved', 'rejected')),
    decision_reasons     text[],
    decided_at           timestamptz,
    certificate_id       uuid REFERENCES certificates (id),
    delivery             jsonb,
    -- Each stage's duration once it ends (policy 三(二): shorter transfer, review and delivery).
    handover_seconds     integer,
    review_seconds       integer,
    delivery_seconds     integer,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((decision IS NULL) = (decided_at IS NULL))
);
CREATE INDEX cases_citizen ON cases (citizen_id, created_at DESC);
CREATE INDEX cases_receiving ON cases (receiving_division, state);
CREATE INDEX cases_handling ON cases (handling_division, state);
CREATE INDEX cases_deadline ON cases (deadline) WHERE deadline IS NOT NULL
    AND state IN ('accepted', 'in_review', 'supplement_requested', 'supplemented');

ALTER TABLE certificates ADD CONSTRAINT certificates_case FOREIGN KEY (case_id) REFERENCES cases (id);

-- The timeline: every transition, with the division that acted and the actor's role. `actor_ref`
-- (who acted, `staff:<id>`) is for audit only and never shown to the citizen.
CREATE TABLE case_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       uuid NOT NULL REFERENCES cases (id),
    action        text NOT NULL,
    from_state    text,
    to_state      text NOT NULL,
    division_code char(6),
    actor_role    text NOT NULL,
    actor_ref     text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}',
    at            timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- The case's materials, one row per receipt-standard material given: an upload (a row of the
-- material store, `material_id`) or an e-certificate of the applicant's that replaces it. Each is
-- accepted or refused by staff; a 补正 answer adds new rows (`supplement_request_id`).
CREATE TABLE case_materials (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id               uuid NOT NULL REFERENCES cases (id),
    name                  text NOT NULL,
    material_id           uuid,
    certificate_id        uuid REFERENCES certificates (id),
    digest                bytea NOT NULL,
    state                 text NOT NULL DEFAULT 'submitted' CHECK (state IN ('submitted', 'accepted', 'refused', 'replaced')),
    supplement_request_id uuid,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((material_id IS NULL) <> (certificate_id IS NULL))
);
CREATE INDEX case_materials_case ON case_materials (case_id, created_at);

-- 补正: one complete request listing every missing or wrong material with a reason; answered once.
CREATE TABLE case_supplement_requests (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id       uuid NOT NULL REFERENCES cases (id),
    round         integer NOT NULL CHECK (round > 0),
    items         jsonb NOT NULL,
    division_code char(6) NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    UNIQUE (case_id, round)
);
ALTER TABLE case_materials ADD CONSTRAINT case_materials_supplement
    FOREIGN KEY (supplement_request_id) REFERENCES case_supplement_requests (id);

-- Liaison between receiving and handling staff (and joint-task divisions); never shown to the citizen.
CREATE TABLE case_messages (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id       uuid NOT NULL REFERENCES cases (id),
    division_code char(6) NOT NULL,
    actor_role    text NOT NULL,
    actor_ref     text NOT NULL,
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_messages_case ON case_messages (case_id, created_at);

-- 多地联办: the accepting place opens a task for each other division involved; the case is decided
-- only when every task is done.
CREATE TABLE case_coordination_tasks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id       uuid NOT NULL REFERENCES cases (id),
    division_code char(6) NOT NULL,
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    request       text,
    note          text,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz,
    UNIQUE (case_id, division_code)
);
CREATE INDEX case_tasks_division ON case_coordination_tasks (division_code, state);

-- Which issuing authority signs an item's e-certificate for cases handled in a division: the most
-- specific division containing the handling division wins.
CREATE TABLE case_result_authorities (
    item_code     text NOT NULL REFERENCES catalogue_items (code),
    division_code char(6) NOT NULL,
    authority_id  text NOT NULL REFERENCES certificate_authorities (id),
    PRIMARY KEY (item_code, division_code)
);
