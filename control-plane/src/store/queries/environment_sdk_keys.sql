SELECT id, name, kind, role, environment_id, sha256, hint, created_at, expires_at, revoked_at, rotated_to
FROM api_keys
WHERE environment_id = $1 AND kind IN ('server', 'client') AND revoked_at IS NULL
ORDER BY id
