-- Dashboard sessions: an admin token exchanged for a session cookie. Only
-- hashes are stored: the cookie's secret and the admin token it was opened
-- with (so revoking that token ends its sessions).
CREATE TABLE admin_sessions (
    sha256     TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);
