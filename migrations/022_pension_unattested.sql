-- Issue #13: a paying agency may accept unattested phone captures for pension recognition only with a
-- later check. After `unattested_in_a_row` phone recognitions in a row whose face check came from an
-- unattested capture (the pensioner's own phone or a relative's, no attested app), the next one must
-- rest on something stronger: an attested app, a kiosk, staff, or a sign of life. NULL: no such rule.
ALTER TABLE pension_agencies
    ADD COLUMN unattested_in_a_row smallint CHECK (unattested_in_a_row BETWEEN 1 AND 10);
