-- Halyard control plane schema (PostgreSQL).
--
-- Flags are global (their definition is shared by every environment); each
-- environment holds one configuration per flag, its segments and its SDK
-- keys. Every committed change bumps the revision of each environment it
-- affects and writes one change message per environment to the outbox in the
-- same transaction; the relay publishes the outbox in revision order.

CREATE TABLE environments (
    id          uuid PRIMARY KEY,
    key         text NOT NULL,
    name        text NOT NULL,
    epoch       text NOT NULL,
    revision    bigint NOT NULL CHECK (revision >= 1),
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT environments_key_key UNIQUE (key)
);

CREATE TABLE flags (
    id          uuid PRIMARY KEY,
    key         text NOT NULL,
    description text NOT NULL DEFAULT '',
    kind        text NOT NULL,
    variations  jsonb NOT NULL,
    tags        text[] NOT NULL DEFAULT '{}',
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT flags_key_key UNIQUE (key)
);
CREATE INDEX flags_tags_idx ON flags USING gin (tags);

CREATE TABLE flag_configs (
    flag_id        uuid NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    config         jsonb NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (environment_id, flag_id)
);
CREATE INDEX flag_configs_flag_idx ON flag_configs (flag_id);

CREATE TABLE segments (
    id             uuid PRIMARY KEY,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key            text NOT NULL,
    body           jsonb NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT segments_environment_key_key UNIQUE (environment_id, key)
);

-- Admin tokens (role), SDK keys (environment, server|client) and edge tokens.
-- Only a SHA-256 of each key is stored; `hint` is a masked form for listings.
CREATE TABLE api_keys (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('admin', 'server', 'client', 'edge')),
    role           text CHECK (role IN ('viewer', 'editor', 'admin')),
    environment_id uuid REFERENCES environments (id) ON DELETE CASCADE,
    sha256         text NOT NULL,
    hint           text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    revoked_at     timestamptz,
    rotated_to     uuid,
    CONSTRAINT api_keys_sha256_key UNIQUE (sha256),
    CONSTRAINT api_keys_role_for_admin CHECK ((kind = 'admin') = (role IS NOT NULL)),
    CONSTRAINT api_keys_environment_for_sdk CHECK ((kind IN ('server', 'client')) = (environment_id IS NOT NULL))
);

CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor_id     text NOT NULL,
    actor_name   text NOT NULL,
    action       text NOT NULL,
    resource     text NOT NULL,
    resource_key text NOT NULL,
    environment  text,
    flag_key     text,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_flag_idx ON audit_log (flag_key, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_name, id DESC);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

-- One row per committed change per affected environment. Not a foreign key to
-- environments: a deletion's own message must outlive the environment.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    environment_id  uuid NOT NULL,
    environment_key text NOT NULL,
    revision        bigint NOT NULL,
    message         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    published_at    timestamptz,
    CONSTRAINT outbox_environment_revision_key UNIQUE (environment_id, revision)
);
CREATE INDEX outbox_pending_idx ON outbox (environment_id, revision) WHERE published_at IS NULL;
