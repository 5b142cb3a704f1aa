-- Service catalogue fixes after review (issue 4). Migration 003 stays as it landed; this file changes
-- what it made.

-- == List versions: 'superseded' is read from the dates, not stored ==================================
-- Publishing a version from a future date used to mark the version in force as superseded at once,
-- so it could no longer be withdrawn while still in force. Now closing a version at its successor's
-- start leaves it published; it reads as superseded once that day has come.
ALTER TABLE catalogue_list_versions DISABLE TRIGGER catalogue_list_versions_immutable;
UPDATE catalogue_list_versions SET state = 'published' WHERE state = 'superseded';
ALTER TABLE catalogue_list_versions ENABLE TRIGGER catalogue_list_versions_immutable;

ALTER TABLE catalogue_list_versions
    DROP CONSTRAINT catalogue_list_versions_state_check,
    ADD CONSTRAINT catalogue_list_versions_state_check CHECK (state IN ('draft', 'published', 'withdrawn')),
    ADD CONSTRAINT catalogue_list_versions_draft_undated CHECK (
        state <> 'draft' OR (published_on IS NULL AND effective_date IS NULL AND effective_until IS NULL
                             AND withdrawal_reason IS NULL)),
    ADD CONSTRAINT catalogue_list_versions_withdrawn_closed CHECK (
        state <> 'withdrawn' OR (effective_until IS NOT NULL AND withdrawal_reason IS NOT NULL));

-- The state machine, complete: every action with the state it is allowed in. `edit` and `discard`
-- (the row is deleted) are what the triggers below allow in a state instead of naming 'draft'. Each
-- move between two states is exactly one action, so checking (from, to) checks the action.
DELETE FROM catalogue_list_transitions WHERE action = 'supersede';
INSERT INTO catalogue_list_transitions (from_state, action, to_state) VALUES
    ('draft', 'edit', 'draft'),
    ('draft', 'discard', 'discarded');
ALTER TABLE catalogue_list_transitions
    ADD CONSTRAINT catalogue_list_transitions_one_action UNIQUE (from_state, to_state);

-- A version that has left the editable state never changes its content; its state moves only along a
-- transition and not after it has ended; its withdrawal reason is written only by a change of state;
-- its closing date may be set or brought forward, and pushed later in one case only: the successor
-- that closed it was withdrawn before taking effect (an empty period), and the day it would have
-- ended is still to come, so only days not yet lived change.
CREATE OR REPLACE FUNCTION catalogue_list_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    china_today constant date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM catalogue_list_transitions WHERE from_state = OLD.state AND action = 'discard') THEN
            RAISE EXCEPTION 'list % version % is % and cannot be deleted', OLD.list_code, OLD.version, OLD.state
                USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.state <> OLD.state AND NOT EXISTS (
        SELECT 1 FROM catalogue_list_transitions WHERE from_state = OLD.state AND to_state = NEW.state) THEN
        RAISE EXCEPTION 'no transition from % to %', OLD.state, NEW.state
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF EXISTS (SELECT 1 FROM catalogue_list_transitions WHERE from_state = OLD.state AND action = 'edit') THEN
        RETURN NEW;
    END IF;
    IF (NEW.list_code, NEW.version, NEW.name, NEW.issuer, NEW.document, NEW.note, NEW.sample, NEW.published_on,
        NEW.effective_date, NEW.supersedes)
       IS DISTINCT FROM
       (OLD.list_code, OLD.version, OLD.name, OLD.issuer, OLD.document, OLD.note, OLD.sample, OLD.published_on,
        OLD.effective_date, OLD.supersedes) THEN
        RAISE EXCEPTION 'list % version % is % and its content cannot change', OLD.list_code, OLD.version, OLD.state
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF NEW.withdrawal_reason IS DISTINCT FROM OLD.withdrawal_reason AND NEW.state = OLD.state THEN
        RAISE EXCEPTION 'the withdrawal reason of list % version % cannot change', OLD.list_code, OLD.version
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF NEW.state <> OLD.state AND OLD.effective_until <= china_today THEN
        RAISE EXCEPTION 'list % version % ended on % and its state cannot change', OLD.list_code, OLD.version,
            OLD.effective_until USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF OLD.effective_until IS NOT NULL AND (NEW.effective_until IS NULL OR NEW.effective_until > OLD.effective_until)
       AND NOT (NEW.state = OLD.state AND OLD.effective_until > china_today AND EXISTS (
           SELECT 1 FROM catalogue_list_versions s
           WHERE s.list_code = OLD.list_code AND s.id <> OLD.id AND s.state = 'withdrawn'
             AND s.effective_date = OLD.effective_until AND s.effective_until = s.effective_date)) THEN
        RAISE EXCEPTION 'list % version % already ends on %', OLD.list_code, OLD.version, OLD.effective_until
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION catalogue_list_content_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_version bigint := CASE WHEN TG_OP = 'INSERT' THEN NEW.version_id ELSE OLD.version_id END;
    row_state text;
BEGIN
    SELECT state INTO row_state FROM catalogue_list_versions WHERE id = row_version;
    -- A cascade from deleting a draft finds no version row any more.
    IF row_state IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM catalogue_list_transitions WHERE from_state = row_state AND action = 'edit') THEN
        RAISE EXCEPTION 'the content of a % list version cannot change', row_state
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version_id <> OLD.version_id THEN
        RAISE EXCEPTION 'entries cannot move between versions' USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- A list's code and kind never change: turning a regional list national would apply every version it
-- ever published everywhere, retroactively.
CREATE FUNCTION catalogue_list_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.code, NEW.kind) IS DISTINCT FROM (OLD.code, OLD.kind) THEN
        RAISE EXCEPTION 'list % is % and stays so; create a new list instead', OLD.code, OLD.kind
            USING ERRCODE = 'P0001', HINT = 'catalogue-immutable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER catalogue_lists_immutable BEFORE UPDATE ON catalogue_lists
    FOR EACH ROW EXECUTE FUNCTION catalogue_list_guard();

-- Never used: queries for the versions in force test `daterange(...) @> day`, which the exclusion
-- constraint's GiST index serves.
DROP INDEX catalogue_list_versions_in_force;
