SELECT DISTINCT environment_id FROM outbox WHERE published_at IS NULL
