-- Idempotency records last 24 h (ignored on read when older, deleted by the `idempotency.purge` job),
-- and stored answers are sealed with the PII key from now on: the plaintext ones stored so far (some
-- holding live tokens) are dropped; a retry of one of them simply runs again.
DELETE FROM idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
