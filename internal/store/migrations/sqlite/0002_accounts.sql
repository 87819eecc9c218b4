-- Projects, users, memberships, sessions, API keys and the audit log, for `plumb serve`.
--
-- Times are UTC text in the fixed-width format of 0001, so text order is time order.
-- Secrets are never stored: sessions and API keys are kept as the hex SHA-256 of the token,
-- passwords as the hash the server computed.

CREATE TABLE projects (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- Runs saved before projects existed, and every run the CLI saves, belong here.
INSERT INTO projects (id, slug, name, created_at)
VALUES ('p_default', 'default', 'Default', strftime('%Y-%m-%dT%H:%M:%S.000000000Z', 'now'));

-- SQLite cannot add a column with a REFERENCES clause and a non-NULL default, so runs is
-- rebuilt (https://sqlite.org/lang_altertable.html#otheralter). The migration runs with
-- foreign keys off, so that dropping the old table does not cascade into results, whose
-- reference to "runs" then names the new table; the runner checks the keys before commit.
CREATE TABLE runs_new (
    id           TEXT PRIMARY KEY,
    suite        TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    run          TEXT NOT NULL,
    summary      TEXT NOT NULL,
    cases        INTEGER NOT NULL,
    passed       INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    pass_rate    REAL NOT NULL,
    gates_passed INTEGER NOT NULL,
    gates_total  INTEGER NOT NULL,
    project_id   TEXT NOT NULL DEFAULT 'p_default' REFERENCES projects (id)
) STRICT;

INSERT INTO runs_new (id, suite, status, started_at, finished_at, config_hash, run, summary,
    cases, passed, failed, errors, pass_rate, gates_passed, gates_total)
SELECT id, suite, status, started_at, finished_at, config_hash, run, summary,
    cases, passed, failed, errors, pass_rate, gates_passed, gates_total
FROM runs;

DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;

CREATE INDEX runs_by_started ON runs (started_at, id);
CREATE INDEX runs_by_suite ON runs (suite, started_at, id);
CREATE INDEX runs_by_status ON runs (status, started_at, id);
CREATE INDEX runs_by_project ON runs (project_id, started_at, id);
CREATE INDEX runs_by_project_suite ON runs (project_id, suite, started_at, id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL, -- as the user typed it
    -- The lower-cased email, computed by the store: one rule for uniqueness and lookup in
    -- both dialects (SQLite's NOCASE folds ASCII only).
    email_key     TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    disabled      INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE members (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
) STRICT;

CREATE INDEX members_by_user ON members (user_id, project_id);

CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY, -- hex SHA-256 of the session token
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    csrf_token_hash TEXT              -- hex SHA-256 of the CSRF token, if the session has one
) STRICT;

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    prefix       TEXT NOT NULL,        -- the start of the key, shown in lists
    key_hash     TEXT NOT NULL UNIQUE, -- hex SHA-256 of the whole key
    created_by   TEXT REFERENCES users (id),
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
) STRICT;

CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at);

-- Append-only: the triggers below refuse every UPDATE and DELETE. project_id has no
-- foreign key on purpose: the log outlives what it names.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so ids are the log's order
    at          TEXT NOT NULL,
    actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id    TEXT NOT NULL,
    project_id  TEXT,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before      TEXT, -- JSON
    after       TEXT  -- JSON
) STRICT;

CREATE INDEX audit_by_project ON audit_log (project_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be updated');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
END;
