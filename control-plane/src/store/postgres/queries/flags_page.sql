-- A page of flags with their configuration in one environment, filtered by
-- key substring (matched literally: LIKE wildcards are escaped) and tag; the
-- window count gives the total without a second query.
SELECT f.id, f.key, f.description, f.kind, f.variations, f.tags, f.version, f.created_at, f.updated_at,
       c.config, c.environment_id AS config_environment_id, c.version AS config_version, c.updated_at AS config_updated_at,
       count(*) OVER () AS total
FROM flags f
JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = $1
WHERE ($2::text IS NULL OR f.key ILIKE '%' || replace(replace(replace($2, '\', '\\'), '%', '\%'), '_', '\_') || '%')
  AND ($3::text IS NULL OR f.tags @> jsonb_build_array($3::text))
ORDER BY f.key
LIMIT $4 OFFSET $5
