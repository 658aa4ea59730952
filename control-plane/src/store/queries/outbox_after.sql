SELECT id, environment_id, message, published_at FROM outbox WHERE id > $1 ORDER BY id LIMIT $2
