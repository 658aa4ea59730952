-- A page of flags with their configuration in one environment, filtered by
-- key substring (matched literally: LIKE wildcards are escaped; SQLite's LIKE
-- ignores ASCII case) and tag; the window count gives the total.
SELECT f.id, f.key, f.description, f.kind, f.variations, f.tags, f.version, f.created_at, f.updated_at,
       c.config, c.environment_id AS config_environment_id, c.version AS config_version, c.updated_at AS config_updated_at,
       count(*) OVER () AS total
FROM flags f
JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = ?1
WHERE (?2 IS NULL OR f.key LIKE '%' || replace(replace(replace(?2, '\', '\\'), '%', '\%'), '_', '\_') || '%' ESCAPE '\')
  AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(f.tags) WHERE json_each.value = ?3))
ORDER BY f.key
LIMIT ?4 OFFSET ?5
