UPDATE environments SET name = $2, revision = $3, version = $4, updated_at = $5 WHERE id = $1
