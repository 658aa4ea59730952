DELETE FROM admin_sessions WHERE julianday(expires_at) < julianday(?1)
