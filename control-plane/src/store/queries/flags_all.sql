SELECT id, key, description, kind, variations, tags, version, created_at, updated_at FROM flags ORDER BY key
