UPDATE outbox SET published_at = $2 WHERE id = ANY ($1)
