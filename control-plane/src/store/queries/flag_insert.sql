INSERT INTO flags (id, key, description, kind, variations, tags, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
