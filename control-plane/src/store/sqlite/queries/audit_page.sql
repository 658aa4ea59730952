SELECT id, at, actor_id, actor_name, action, resource, resource_key, environment, flag_key, before, after
FROM audit_log
WHERE (?1 IS NULL OR flag_key = ?1)
  AND (?2 IS NULL OR actor_name = ?2)
  AND (?3 IS NULL OR julianday(at) >= julianday(?3))
  AND (?4 IS NULL OR julianday(at) < julianday(?4))
  AND (?5 IS NULL OR id < ?5)
ORDER BY id DESC
LIMIT ?6
