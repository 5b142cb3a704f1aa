-- 好差评: the applicant's rating of a case once its result is out, and the follow-up a poor rating
-- (1 or 2) opens for a supervisor of the handling division. Also the link from a case's materials to
-- the material store (019 made the column, 020 the table).

ALTER TABLE case_materials ADD CONSTRAINT case_materials_material FOREIGN KEY (material_id) REFERENCES materials (id);

-- One rating per case, by its applicant. The comment is the applicant's own words: shown to staff in
-- scope only (supervisors following it up), never in metrics.
CREATE TABLE case_ratings (
    case_id           uuid PRIMARY KEY REFERENCES cases (id),
    citizen_id        uuid NOT NULL REFERENCES citizens (id),
    score             smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment           text CHECK (char_length(comment) <= 500),
    handling_division char(6) NOT NULL,
    rated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_ratings_division ON case_ratings (handling_division, rated_at);

-- A poor rating's follow-up: open until a supervisor whose division contains the handling division
-- closes it with a note of what was done.
CREATE TABLE rating_follow_ups (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id       uuid NOT NULL UNIQUE REFERENCES case_ratings (case_id),
    division_code char(6) NOT NULL,
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    note          text CHECK (char_length(note) BETWEEN 1 AND 2000),
    closed_by     text,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    CHECK ((state = 'closed') = (note IS NOT NULL AND closed_at IS NOT NULL AND closed_by IS NOT NULL))
);
CREATE INDEX rating_follow_ups_division ON rating_follow_ups (division_code, state, opened_at);

-- Monitoring reads cases by creation date within a division's scope.
CREATE INDEX cases_created ON cases (created_at);
