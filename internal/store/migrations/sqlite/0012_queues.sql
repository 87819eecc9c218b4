-- Annotation queues (human review): a queue of items to label, taken from a pinned dataset
-- version or from a run's results, with a rubric (JSON, checked by internal/review), an
-- overlap k (each item is labelled by k distinct annotators), versioned guidelines,
-- annotators (queue members), leases that keep two annotators off the same slot,
-- annotations and adjudications.
--
-- Times are UTC text in the fixed-width format of 0001, so text order is time order.

CREATE TABLE queues (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    source_kind     TEXT NOT NULL CHECK (source_kind IN ('dataset', 'run')),
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

CREATE INDEX queues_by_run ON queues (run_id) WHERE run_id IS NOT NULL;

-- Each edit of the guidelines is a new version; annotations name the version they were
-- made under.
CREATE TABLE queue_guidelines (
    queue_id   TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    body       TEXT NOT NULL, -- Markdown
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (queue_id, version)
) STRICT;

CREATE TABLE queue_members (
    queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (queue_id, user_id)
) STRICT;

-- id numbers a queue's items 1, 2, 3, ...; source_id is the dataset item's id or the
-- result's position in its run; content is the JSON the labelling page shows, copied when
-- the queue was made (a dataset version and a run never change).
CREATE TABLE queue_items (
    queue_id  TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    id        INTEGER NOT NULL CHECK (id >= 1),
    source_id INTEGER NOT NULL,
    content   TEXT NOT NULL,
    PRIMARY KEY (queue_id, id),
    UNIQUE (queue_id, source_id)
) STRICT;

-- A lease is an annotator's hold on one slot of an item until expires_at.
CREATE TABLE queue_leases (
    queue_id   TEXT NOT NULL,
    item_id    INTEGER NOT NULL,
    annotator  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (queue_id, item_id, annotator),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
) STRICT;

-- One row per item and annotator: the values (JSON object, field -> normalized value), or
-- skipped. An annotator revises their own row.
CREATE TABLE queue_annotations (
    queue_id          TEXT NOT NULL,
    item_id           INTEGER NOT NULL,
    annotator         TEXT NOT NULL,
    vals              TEXT NOT NULL,
    comment           TEXT NOT NULL,
    skipped           INTEGER NOT NULL, -- 0 or 1
    guideline_version INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (queue_id, item_id, annotator),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX queue_annotations_by_annotator ON queue_annotations (queue_id, annotator);

-- The adjudicated consensus of one field of one item (the latest; the audit log keeps the
-- history).
CREATE TABLE queue_adjudications (
    queue_id    TEXT NOT NULL,
    item_id     INTEGER NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    adjudicator TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (queue_id, item_id, field),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
) STRICT;
