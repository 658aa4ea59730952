SELECT id, key, name, epoch, revision, version, created_at, updated_at FROM environments WHERE key = $1
