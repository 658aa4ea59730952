WITH row AS (
    INSERT INTO outbox (environment_id, environment_key, revision, message, created_at)
    VALUES ($1, $2, $3, $4, $5)
)
-- Wakes every control plane's relay and admin event feed; delivered on commit.
SELECT pg_notify('halyard_outbox', $2)
