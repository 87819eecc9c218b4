-- The prompt registry: prompts with immutable, numbered versions, and labels (production,
-- staging, any name) that point at a version and move. Every move is kept in
-- prompt_label_moves, so that a move can be rolled back (to its from_version) and, later,
-- a move of a protected label can be tied to the review that approved it (by the move's id).

CREATE TABLE prompts (
    id         text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (project_id, name)
);

-- content is the canonical JSON the store computes (keys sorted, no spaces), kept as json
-- (not jsonb) so that its text, and so content_hash, its hex SHA-256, stay exact.
CREATE TABLE prompt_versions (
    prompt_id    text NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version >= 1),
    content_hash text NOT NULL,
    content      json NOT NULL,
    author       text NOT NULL,
    message      text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

-- A version is immutable: what an eval run or an application pinned stays what it was.
-- (Deleting stays possible: a project's deletion cascades.)
CREATE FUNCTION prompt_rows_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER prompt_versions_no_update BEFORE UPDATE ON prompt_versions
    FOR EACH ROW EXECUTE FUNCTION prompt_rows_immutable();

CREATE TABLE prompt_labels (
    prompt_id text NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    label     text NOT NULL,
    version   integer NOT NULL,
    moved_at  timestamptz NOT NULL,
    moved_by  text NOT NULL,
    PRIMARY KEY (prompt_id, label),
    FOREIGN KEY (prompt_id, version) REFERENCES prompt_versions (prompt_id, version)
);

-- Append-only history of label moves (updates are refused; rows go only with their prompt).
CREATE TABLE prompt_label_moves (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- the history's order
    prompt_id    text NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    label        text NOT NULL,
    from_version integer, -- NULL: the label was new
    to_version   integer NOT NULL,
    actor        text NOT NULL,
    at           timestamptz NOT NULL
);

CREATE INDEX prompt_label_moves_by_label ON prompt_label_moves (prompt_id, label, id);

CREATE TRIGGER prompt_label_moves_no_update BEFORE UPDATE ON prompt_label_moves
    FOR EACH ROW EXECUTE FUNCTION prompt_rows_immutable();
