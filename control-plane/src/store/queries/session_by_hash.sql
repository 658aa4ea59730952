SELECT sha256, key_sha256, created_at, expires_at FROM admin_sessions WHERE sha256 = $1
