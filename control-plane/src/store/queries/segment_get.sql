SELECT id, environment_id, key, body, version, created_at, updated_at, CAST(0 AS bigint) AS total FROM segments WHERE environment_id = $1 AND key = $2
