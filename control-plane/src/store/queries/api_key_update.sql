UPDATE api_keys SET name = $2, expires_at = $3, revoked_at = $4, rotated_to = $5 WHERE id = $1
