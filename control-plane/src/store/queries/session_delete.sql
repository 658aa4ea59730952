DELETE FROM admin_sessions WHERE sha256 = $1
