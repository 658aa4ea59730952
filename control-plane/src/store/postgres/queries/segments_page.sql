-- `q` matches literally: LIKE wildcards in it are escaped.
SELECT id, environment_id, key, body, version, created_at, updated_at, count(*) OVER () AS total
FROM segments
WHERE environment_id = $1 AND ($2::text IS NULL OR key ILIKE '%' || replace(replace(replace($2, '\', '\\'), '%', '\%'), '_', '\_') || '%')
ORDER BY key
LIMIT $3 OFFSET $4
