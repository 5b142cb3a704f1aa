-- Links to `cases` that had to wait for it: a case's signed exchange records (023 was written beside
-- 019), and an agency's data request made for a case (016 kept only the agency's free text).

-- Exchange records belong to an existing case, like every other child table of a case (no ON DELETE:
-- a case is never deleted, and signed records must not go with it). Rows that name no case, or a case
-- under another number, would be evidence of something else having gone wrong: stop and say so rather
-- than drop or rewrite signed records.
DO $$
DECLARE
    orphans integer;
    mismatched integer;
BEGIN
    SELECT count(*) FILTER (WHERE c.id IS NULL), count(*) FILTER (WHERE c.id IS NOT NULL AND c.number <> x.case_number)
      INTO orphans, mismatched
      FROM case_exchanges x LEFT JOIN cases c ON c.id = x.case_id;
    IF orphans > 0 OR mismatched > 0 THEN
        RAISE EXCEPTION 'case_exchanges: % row(s) name no case and % row(s) a case under another number', orphans,
            mismatched USING HINT = 'inspect them (SELECT … FROM case_exchanges x LEFT JOIN cases c ON c.id = '
                                    'x.case_id) before migrating; signed records are not rewritten here';
    END IF;
END $$;
ALTER TABLE case_exchanges ADD CONSTRAINT case_exchanges_case FOREIGN KEY (case_id) REFERENCES cases (id);

-- A staff data request made for a case names it (`case_id`), checked to exist and to be in the
-- requesting officer's scope when the request was made. `case_reference` stays for rows written before:
-- the agency's unchecked text; a row has one or the other, and only staff requests name a case.
ALTER TABLE data_requests ADD COLUMN case_id uuid REFERENCES cases (id);
ALTER TABLE data_requests ADD CONSTRAINT data_requests_one_case
    CHECK (case_id IS NULL OR (case_reference IS NULL AND requester_kind = 'staff'));
