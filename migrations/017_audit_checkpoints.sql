-- The audit chain notices whole chains and its own tail going missing (issue 15, item 4).
--
-- 1. The chain number goes inside the MAC. Entries written from now on carry `mac_version` 2, whose
--    MAC covers the chain number; older entries keep version 1 and still verify (as migration 002
--    left them), so renumbering is detected from the first new entry of each chain on.
ALTER TABLE audit_log ADD COLUMN mac_version smallint NOT NULL DEFAULT 1 CHECK (mac_version IN (1, 2));
ALTER TABLE audit_log ALTER COLUMN mac_version SET DEFAULT 2;

-- 2. Every chain has a head from the start: a chain without one is broken, not empty. A head at seq 0
--    (no entries yet) needs no seal: it protects nothing but its own existence. The chains are
--    0 .. CHAINS - 1 of backend/audit/repository.py (8); a chain that has entries but lost its head
--    before this migration gets an empty head here, which the verifier reports as cut off.
INSERT INTO audit_head (chain, seq, hash, seal)
SELECT c, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, ''::bytea
FROM generate_series(0, 7) AS c
WHERE NOT EXISTS (SELECT 1 FROM audit_head h WHERE h.chain = c);

-- The tip of a chain is its head, not its newest surviving entry: an append after someone deleted a
-- chain's entries continues from the head (leaving a gap the verifier sees) instead of starting the
-- chain afresh, and an append to a chain whose head is gone fails instead of recreating it.
CREATE OR REPLACE FUNCTION audit_chain_tip(chains int, lock_base bigint, OUT chain int, OUT seq bigint, OUT hash bytea)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    chain := (txid_current() % chains)::int;
    PERFORM pg_advisory_xact_lock(lock_base + chain);
    SELECT h.seq, h.hash INTO seq, hash FROM audit_head h WHERE h.chain = audit_chain_tip.chain;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit chain % has no head: run tongban audit verify', chain;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION audit_free_chain_tip(chains int, lock_base bigint, OUT chain int, OUT seq bigint, OUT hash bytea)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    first int := (txid_current() % chains)::int;
BEGIN
    LOOP
        FOR step IN 0 .. chains - 1 LOOP
            chain := (first + step) % chains;
            IF pg_try_advisory_xact_lock(lock_base + chain) THEN
                SELECT h.seq, h.hash INTO seq, hash FROM audit_head h WHERE h.chain = audit_free_chain_tip.chain;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'audit chain % has no head: run tongban audit verify', chain;
                END IF;
                RETURN;
            END IF;
        END LOOP;
        PERFORM pg_sleep(0.005);
    END LOOP;
END $$;

-- 3. Signed checkpoints: every chain's (seq, mac) head signed with the audit checkpoint key (Ed25519)
--    as a compact JWS. Kept here and published; what proves a rollback is a copy kept elsewhere.
CREATE TABLE audit_checkpoints (
    id        bigserial PRIMARY KEY,
    signed_at timestamptz NOT NULL,
    kid       text NOT NULL,
    heads     jsonb NOT NULL,
    token     text NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
