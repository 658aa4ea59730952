INSERT INTO flag_configs (flag_id, environment_id, config, version, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (environment_id, flag_id) DO UPDATE
SET config = EXCLUDED.config, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
