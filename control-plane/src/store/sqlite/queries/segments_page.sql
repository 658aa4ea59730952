-- `q` matches literally: LIKE wildcards in it are escaped.
SELECT id, environment_id, key, body, version, created_at, updated_at, count(*) OVER () AS total
FROM segments
WHERE environment_id = ?1 AND (?2 IS NULL OR key LIKE '%' || replace(replace(replace(?2, '\', '\\'), '%', '\%'), '_', '\_') || '%' ESCAPE '\')
ORDER BY key
LIMIT ?3 OFFSET ?4
