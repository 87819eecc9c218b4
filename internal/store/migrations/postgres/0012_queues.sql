-- Annotation queues (human review): a queue of items to label, taken from a pinned dataset
-- version or from a run's results, with a rubric (JSON, checked by internal/review), an
-- overlap k (each item is labelled by k distinct annotators), versioned guidelines,
-- annotators (queue members), leases that keep two annotators off the same slot,
-- annotations and adjudications.

CREATE TABLE queues (
    id              text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL,
    description     text NOT NULL,
    source_kind     text NOT NULL CHECK (source_kind IN ('dataset', 'run')),
    dataset_id      text REFERENCES datasets (id) ON DELETE CASCADE,
    dataset_version integer,
    run_id          text REFERENCES runs (id) ON DELETE CASCADE,
    rubric          text NOT NULL, -- JSON: review.Rubric, kept as written
    overlap         integer NOT NULL CHECK (overlap >= 1),
    status          text NOT NULL CHECK (status IN ('open', 'closed')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (project_id, name)
);

CREATE INDEX queues_by_run ON queues (run_id) WHERE run_id IS NOT NULL;

-- Each edit of the guidelines is a new version; annotations name the version they were
-- made under.
CREATE TABLE queue_guidelines (
    queue_id   text NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    version    integer NOT NULL CHECK (version >= 1),
    body       text NOT NULL, -- Markdown
    author     text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (queue_id, version)
);

CREATE TABLE queue_members (
    queue_id text NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (queue_id, user_id)
);

-- id numbers a queue's items 1, 2, 3, ...; source_id is the dataset item's id or the
-- result's position in its run; content is the JSON the labelling page shows, copied when
-- the queue was made (a dataset version and a run never change).
CREATE TABLE queue_items (
    queue_id  text NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    id        bigint NOT NULL CHECK (id >= 1),
    source_id bigint NOT NULL,
    content   text NOT NULL,
    PRIMARY KEY (queue_id, id),
    UNIQUE (queue_id, source_id)
);

-- A lease is an annotator's hold on one slot of an item until expires_at.
CREATE TABLE queue_leases (
    queue_id   text NOT NULL,
    item_id    bigint NOT NULL,
    annotator  text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (queue_id, item_id, annotator),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
);

-- One row per item and annotator: the values (JSON object, field -> normalized value), or
-- skipped. An annotator revises their own row.
CREATE TABLE queue_annotations (
    queue_id          text NOT NULL,
    item_id           bigint NOT NULL,
    annotator         text NOT NULL,
    vals              text NOT NULL,
    comment           text NOT NULL,
    skipped           boolean NOT NULL,
    guideline_version integer NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (queue_id, item_id, annotator),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
);

CREATE INDEX queue_annotations_by_annotator ON queue_annotations (queue_id, annotator);

-- The adjudicated consensus of one field of one item (the latest; the audit log keeps the
-- history).
CREATE TABLE queue_adjudications (
    queue_id    text NOT NULL,
    item_id     bigint NOT NULL,
    field       text NOT NULL,
    value       text NOT NULL,
    adjudicator text NOT NULL,
    note        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (queue_id, item_id, field),
    FOREIGN KEY (queue_id, item_id) REFERENCES queue_items (queue_id, id) ON DELETE CASCADE
);
