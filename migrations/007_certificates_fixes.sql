-- Fixes from the review of e-certificates (issue 5). Migration 004 has shipped and stays as it is.

-- A refused attempt is audited on a transaction of its own, so that it survives the refusal rolling
-- back the caller's transaction (an idempotent request, a case's unit of work). That caller may already
-- hold its own chain's lock, and waiting for it would wait forever: this variant of
-- `audit_chain_tip` takes the first chain whose lock is free, starting from the usual one, and only
-- waits (briefly, then tries again) while every chain is busy.
CREATE FUNCTION audit_free_chain_tip(chains int, lock_base bigint, OUT chain int, OUT seq bigint, OUT hash bytea)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    first int := (txid_current() % chains)::int;
BEGIN
    LOOP
        FOR step IN 0 .. chains - 1 LOOP
            chain := (first + step) % chains;
            IF pg_try_advisory_xact_lock(lock_base + chain) THEN
                SELECT a.seq, a.hash INTO seq, hash FROM audit_log a
                WHERE a.chain = audit_free_chain_tip.chain ORDER BY a.seq DESC LIMIT 1;
                RETURN;
            END IF;
        END LOOP;
        PERFORM pg_sleep(0.005);
    END LOOP;
END $$;

-- A check is also refused when the certificate itself can no longer be relied on: revoked, or signed
-- by a key withdrawn as compromised. The holder sees those attempts too.
ALTER TABLE certificate_checks DROP CONSTRAINT certificate_checks_outcome_check;
ALTER TABLE certificate_checks ADD CONSTRAINT certificate_checks_outcome_check
    CHECK (outcome IN ('answered', 'expired', 'used-up', 'withdrawn', 'revoked', 'key-withdrawn'));

-- Issuing with a `reference` (a case's decision) is idempotent only for the same order: a digest of
-- what was ordered is kept, and a repeated reference with a different order is a conflict. Rows issued
-- before this migration have none and are compared by certificate type, as before.
ALTER TABLE certificates ADD COLUMN order_fingerprint bytea;
