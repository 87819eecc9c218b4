-- Review before release: a protected label (by default production; each project sets its
-- list) moves only when a review request for that move is approved, by someone other than
-- the version's author and the requester, in the approval's own transaction. Any label can
-- be rolled back to where it pointed before its latest move.

-- What kind of move each history row is: a plain move, a forced move (a store of one user
-- or none), the move an approved review made (review_id), or a rollback; with its reason.
ALTER TABLE prompt_label_moves ADD COLUMN kind text NOT NULL DEFAULT 'move'
    CHECK (kind IN ('move', 'force', 'review', 'rollback'));
ALTER TABLE prompt_label_moves ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE prompt_label_moves ADD COLUMN review_id bigint;

-- A project's registry settings. No row: the defaults (production is protected).
CREATE TABLE prompt_settings (
    project_id       text PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    protected_labels text NOT NULL, -- JSON array of labels, sorted
    updated_at       timestamptz NOT NULL
);

-- A request to point label at version. base_version and base_move_id are where the label
-- pointed, and its latest move, when the request was opened (NULL: the label was new): a
-- request whose label has moved since is stale and cannot be approved.
CREATE TABLE prompt_reviews (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    prompt_id    text NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    label        text NOT NULL,
    version      integer NOT NULL,
    base_version integer,
    base_move_id bigint,
    requester    text NOT NULL,
    description  text NOT NULL,
    status       text NOT NULL CHECK (status IN ('open', 'approved', 'rejected', 'superseded')),
    decided_by   text NOT NULL DEFAULT '',
    decided_at   timestamptz,
    move_id      bigint, -- the move an approval made
    created_at   timestamptz NOT NULL,
    FOREIGN KEY (prompt_id, version) REFERENCES prompt_versions (prompt_id, version)
);

-- One open request per prompt, label and version.
CREATE UNIQUE INDEX prompt_reviews_one_open ON prompt_reviews (prompt_id, label, version) WHERE status = 'open';
CREATE INDEX prompt_reviews_by_project ON prompt_reviews (project_id, id);

-- A request's thread: comments, and the approval or rejection with its comment.
-- Append-only.
CREATE TABLE prompt_review_comments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id  bigint NOT NULL REFERENCES prompt_reviews (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('comment', 'approve', 'reject')),
    author     text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX prompt_review_comments_by_review ON prompt_review_comments (review_id, id);

CREATE TRIGGER prompt_review_comments_no_update BEFORE UPDATE ON prompt_review_comments
    FOR EACH ROW EXECUTE FUNCTION prompt_rows_immutable();
