INSERT INTO audit_log (at, actor_id, actor_name, action, resource, resource_key, environment, flag_key, before, after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
