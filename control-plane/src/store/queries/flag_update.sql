UPDATE flags SET key = $2, description = $3, kind = $4, variations = $5, tags = $6, version = $7, updated_at = $8
WHERE id = $1
