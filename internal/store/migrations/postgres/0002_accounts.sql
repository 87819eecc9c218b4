-- Projects, users, memberships, sessions, API keys and the audit log, for `plumb serve`.
--
-- Secrets are never stored: sessions and API keys are kept as the hex SHA-256 of the token,
-- passwords as the hash the server computed.

CREATE TABLE projects (
    id         text PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

-- Runs saved before projects existed, and every run the CLI saves, belong here.
INSERT INTO projects (id, slug, name, created_at) VALUES ('p_default', 'default', 'Default', now());

-- A constant default does not rewrite the table; existing runs get the default project.
ALTER TABLE runs ADD COLUMN project_id text NOT NULL DEFAULT 'p_default' REFERENCES projects (id);

CREATE INDEX runs_by_project ON runs (project_id, started_at, id);
CREATE INDEX runs_by_project_suite ON runs (project_id, suite, started_at, id);

CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text NOT NULL, -- as the user typed it
    -- The lower-cased email, computed by the store: one rule for uniqueness and lookup in
    -- both dialects.
    email_key     text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);

CREATE TABLE members (
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

CREATE INDEX members_by_user ON members (user_id, project_id);

CREATE TABLE sessions (
    id_hash         text PRIMARY KEY, -- hex SHA-256 of the session token
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    csrf_token_hash text              -- hex SHA-256 of the CSRF token, if the session has one
);

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    prefix       text NOT NULL,        -- the start of the key, shown in lists
    key_hash     text NOT NULL UNIQUE, -- hex SHA-256 of the whole key
    created_by   text REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at);

-- Append-only: the trigger below refuses every UPDATE, DELETE and TRUNCATE. project_id has
-- no foreign key on purpose: the log outlives what it names.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_type  text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id    text NOT NULL,
    project_id  text,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    before      json,
    after       json
);

CREATE INDEX audit_by_project ON audit_log (project_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
