-- One relay per environment: a transaction-scoped advisory lock, keyed by the
-- environment id, released at commit. Non-blocking: another holder means skip.
SELECT pg_try_advisory_xact_lock(hashtextextended('halyard_outbox:' || $1::text, 0))
