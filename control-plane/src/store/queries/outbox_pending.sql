SELECT id, environment_id, message, published_at FROM outbox WHERE environment_id = $1 AND published_at IS NULL ORDER BY revision LIMIT $2
