INSERT INTO api_keys (id, name, kind, role, environment_id, sha256, hint, created_at, expires_at, revoked_at, rotated_to)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
