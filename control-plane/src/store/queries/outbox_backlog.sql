SELECT count(*), min(created_at) FROM outbox WHERE published_at IS NULL
