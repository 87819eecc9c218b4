-- The prompt registry: prompts with immutable, numbered versions, and labels (production,
-- staging, any name) that point at a version and move. Every move is kept in
-- prompt_label_moves, so that a move can be rolled back (to its from_version) and, later,
-- a move of a protected label can be tied to the review that approved it (by the move's id).
--
-- Times are UTC text in the fixed-width format of 0001, so text order is time order.

CREATE TABLE prompts (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

-- content is the canonical JSON the store computes (keys sorted, no spaces), and
-- content_hash its hex SHA-256: equal content, equal hash, in both dialects.
CREATE TABLE prompt_versions (
    prompt_id    TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL CHECK (version >= 1),
    content_hash TEXT NOT NULL,
    content      TEXT NOT NULL, -- JSON
    author       TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (prompt_id, version)
) STRICT;

-- A version is immutable: what an eval run or an application pinned stays what it was.
-- (Deleting stays possible: a project's deletion cascades.)
CREATE TRIGGER prompt_versions_no_update BEFORE UPDATE ON prompt_versions
BEGIN
    SELECT RAISE(ABORT, 'prompt versions are immutable: push a new version instead');
END;

CREATE TABLE prompt_labels (
    prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    label     TEXT NOT NULL,
    version   INTEGER NOT NULL,
    moved_at  TEXT NOT NULL,
    moved_by  TEXT NOT NULL,
    PRIMARY KEY (prompt_id, label),
    FOREIGN KEY (prompt_id, version) REFERENCES prompt_versions (prompt_id, version)
) STRICT;

-- Append-only history of label moves (updates are refused; rows go only with their prompt).
CREATE TABLE prompt_label_moves (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the history's order
    prompt_id    TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    from_version INTEGER, -- NULL: the label was new
    to_version   INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL
) STRICT;

CREATE INDEX prompt_label_moves_by_label ON prompt_label_moves (prompt_id, label, id);

CREATE TRIGGER prompt_label_moves_no_update BEFORE UPDATE ON prompt_label_moves
BEGIN
    SELECT RAISE(ABORT, 'prompt_label_moves is append-only: rows cannot be updated');
END;
