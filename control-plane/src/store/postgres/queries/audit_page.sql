SELECT id, at, actor_id, actor_name, action, resource, resource_key, environment, flag_key, before, after
FROM audit_log
WHERE ($1::text IS NULL OR flag_key = $1)
  AND ($2::text IS NULL OR actor_name = $2)
  AND ($3::timestamptz IS NULL OR at >= $3)
  AND ($4::timestamptz IS NULL OR at < $4)
  AND ($5::bigint IS NULL OR id < $5)
ORDER BY id DESC
LIMIT $6
