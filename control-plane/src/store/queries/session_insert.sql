INSERT INTO admin_sessions (sha256, key_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4)
