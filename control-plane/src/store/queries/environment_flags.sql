SELECT f.id, f.key, f.description, f.kind, f.variations, f.tags, f.version, f.created_at, f.updated_at,
       c.config, c.environment_id AS config_environment_id, c.version AS config_version, c.updated_at AS config_updated_at, CAST(0 AS bigint) AS total
FROM flags f
JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = $1
ORDER BY f.key
