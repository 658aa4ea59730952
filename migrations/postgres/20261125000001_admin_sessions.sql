-- Dashboard sessions: an admin token exchanged for a session cookie. Only
-- hashes are stored: the cookie's secret and the admin token it was opened
-- with (so revoking that token ends its sessions). Shared by every control
-- plane on this database.
CREATE TABLE admin_sessions (
    sha256     text PRIMARY KEY,
    key_sha256 text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);
