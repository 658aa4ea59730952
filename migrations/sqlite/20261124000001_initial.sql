-- Halyard control plane schema (SQLite): the same tables as
-- migrations/postgres, for the all-in-one node. Ids are UUIDs (16-byte
-- blobs), times RFC 3339 text (compared through julianday()), documents
-- JSON text. Write transactions are BEGIN IMMEDIATE, so they run one at a
-- time and outbox ids follow commit order.

CREATE TABLE environments (
    id          BLOB PRIMARY KEY,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    epoch       TEXT NOT NULL,
    revision    INTEGER NOT NULL CHECK (revision >= 1),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT environments_key_key UNIQUE (key)
);

CREATE TABLE flags (
    id          BLOB PRIMARY KEY,
    key         TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    variations  TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT flags_key_key UNIQUE (key)
);

CREATE TABLE flag_configs (
    flag_id        BLOB NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment_id BLOB NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    config         TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (environment_id, flag_id)
);
CREATE INDEX flag_configs_flag_idx ON flag_configs (flag_id);

CREATE TABLE segments (
    id             BLOB PRIMARY KEY,
    environment_id BLOB NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    body           TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT segments_environment_key_key UNIQUE (environment_id, key)
);

CREATE TABLE api_keys (
    id             BLOB PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('admin', 'server', 'client', 'edge')),
    role           TEXT CHECK (role IN ('viewer', 'editor', 'admin')),
    environment_id BLOB REFERENCES environments (id) ON DELETE CASCADE,
    sha256         TEXT NOT NULL,
    hint           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    revoked_at     TEXT,
    rotated_to     BLOB,
    CONSTRAINT api_keys_sha256_key UNIQUE (sha256),
    CONSTRAINT api_keys_role_for_admin CHECK ((kind = 'admin') = (role IS NOT NULL)),
    CONSTRAINT api_keys_environment_for_sdk CHECK ((kind IN ('server', 'client')) = (environment_id IS NOT NULL))
);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL,
    resource     TEXT NOT NULL,
    resource_key TEXT NOT NULL,
    environment  TEXT,
    flag_key     TEXT,
    before       TEXT,
    after        TEXT
);
CREATE INDEX audit_log_flag_idx ON audit_log (flag_key, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_name, id DESC);

-- AUTOINCREMENT: ids are never reused, so readers can follow them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    environment_id  BLOB NOT NULL,
    environment_key TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    message         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    published_at    TEXT,
    CONSTRAINT outbox_environment_revision_key UNIQUE (environment_id, revision)
);
CREATE INDEX outbox_pending_idx ON outbox (environment_id, revision) WHERE published_at IS NULL;
