SELECT flag_id, environment_id, config, version, updated_at FROM flag_configs WHERE flag_id = $1 AND environment_id = $2
