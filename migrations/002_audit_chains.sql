-- Spread audit entries over a few independent chains so that concurrent transactions do not all
-- queue on one lock. Existing entries become chain 0 unchanged: neither an entry's hash nor a head's
-- seal covers the chain number (an entry's place in its chain is fixed by its `prev_hash` link), so
-- entries written before this migration still verify.

ALTER TABLE audit_log ADD COLUMN chain smallint NOT NULL DEFAULT 0;
ALTER TABLE audit_log ALTER COLUMN chain DROP DEFAULT;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (chain, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- The newest entry of each chain, sealed, so that cutting entries off the end is detected too.
ALTER TABLE audit_head ADD COLUMN chain smallint NOT NULL DEFAULT 0;
ALTER TABLE audit_head ALTER COLUMN chain DROP DEFAULT;
ALTER TABLE audit_head DROP CONSTRAINT audit_head_pkey;
ALTER TABLE audit_head DROP COLUMN singleton;
ALTER TABLE audit_head ADD PRIMARY KEY (chain);

-- Lock the current transaction's chain and return its newest entry, in one round trip. The chain
-- follows from the transaction id, so a transaction never holds two chain locks. PL/pgSQL takes a
-- new snapshot per statement, so the SELECT sees what was committed before the lock was granted.
CREATE FUNCTION audit_chain_tip(chains int, lock_base bigint, OUT chain int, OUT seq bigint, OUT hash bytea)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    chain := (txid_current() % chains)::int;
    PERFORM pg_advisory_xact_lock(lock_base + chain);
    SELECT a.seq, a.hash INTO seq, hash FROM audit_log a
    WHERE a.chain = audit_chain_tip.chain ORDER BY a.seq DESC LIMIT 1;
END $$;
