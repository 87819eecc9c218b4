-- Gateway review queues: a queue whose items are the cases a guard policy's review step
-- held in the gateway (source_kind 'gateway'). Such a queue is made on the first case and
-- grows as cases come; its items' source_id is their own id.
--
-- SQLite cannot change a CHECK constraint, so queues is rebuilt
-- (https://sqlite.org/lang_altertable.html#otheralter). The migration runs with foreign
-- keys off, so that dropping the old table does not cascade into the queue's items,
-- members, guidelines and labels, whose references to "queues" then name the new table;
-- the runner checks the keys before commit.
CREATE TABLE queues_new (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    source_kind     TEXT NOT NULL CHECK (source_kind IN ('dataset', 'run', 'gateway')),
    dataset_id      TEXT REFERENCES datasets (id) ON DELETE CASCADE,
    dataset_version INTEGER,
    run_id          TEXT REFERENCES runs (id) ON DELETE CASCADE,
    rubric          TEXT NOT NULL, -- JSON: review.Rubric
    overlap         INTEGER NOT NULL CHECK (overlap >= 1),
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

INSERT INTO queues_new (id, project_id, name, description, source_kind, dataset_id, dataset_version,
    run_id, rubric, overlap, status, created_at, updated_at)
SELECT id, project_id, name, description, source_kind, dataset_id, dataset_version,
    run_id, rubric, overlap, status, created_at, updated_at
FROM queues;

DROP TABLE queues;
ALTER TABLE queues_new RENAME TO queues;

CREATE INDEX queues_by_run ON queues (run_id) WHERE run_id IS NOT NULL;
