SELECT id, name, kind, role, environment_id, sha256, hint, created_at, expires_at, revoked_at, rotated_to FROM api_keys WHERE id = $1
