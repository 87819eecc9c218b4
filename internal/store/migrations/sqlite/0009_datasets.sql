-- Datasets: items (input vars, expected output, metadata, segment fields, provenance and
-- consent) and immutable, numbered versions, each a set of items. Importing makes a new
-- version: the previous version's items plus the new ones, or the new ones alone (replace).
--
-- Times are UTC text in the fixed-width format of 0001, so text order is time order.

CREATE TABLE datasets (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

-- id numbers a dataset's items in the order they were added (1, 2, 3, ...), so a version
-- lists its items in import order and pages by keyset on id. content_hash is the hex
-- SHA-256 of the canonical JSON of vars and expected (dataset.ContentHash): an exact
-- duplicate is never stored twice in a dataset. near_hash is the SHA-256 of the normalized
-- text (dataset.NearHash), for near-duplicate reports. vars, metadata and segment are JSON
-- objects as the store wrote them.
CREATE TABLE dataset_items (
    dataset_id    TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    id            INTEGER NOT NULL CHECK (id >= 1),
    vars          TEXT NOT NULL,
    expected      TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    segment       TEXT NOT NULL,
    source        TEXT NOT NULL,
    consent       INTEGER NOT NULL, -- 0 or 1
    consent_basis TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    near_hash     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (dataset_id, id),
    UNIQUE (dataset_id, content_hash)
) STRICT;

CREATE INDEX dataset_items_by_near ON dataset_items (dataset_id, near_hash);

-- Items are immutable: what a version held, and what an eval run on it read, stays what it
-- was. (Deleting stays possible: the retention and consent purge deletes items for good.)
CREATE TRIGGER dataset_items_no_update BEFORE UPDATE ON dataset_items
BEGIN
    SELECT RAISE(ABORT, 'dataset items are immutable: import a new version instead');
END;

CREATE TABLE dataset_versions (
    dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    message    TEXT NOT NULL,
    item_count INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset_id, version)
) STRICT;

CREATE TRIGGER dataset_versions_no_update BEFORE UPDATE ON dataset_versions
BEGIN
    SELECT RAISE(ABORT, 'dataset versions are immutable: import a new version instead');
END;

-- The items of each version.
CREATE TABLE dataset_version_items (
    dataset_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    item_id    INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, version, item_id),
    FOREIGN KEY (dataset_id, version) REFERENCES dataset_versions (dataset_id, version) ON DELETE CASCADE,
    FOREIGN KEY (dataset_id, item_id) REFERENCES dataset_items (dataset_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TRIGGER dataset_version_items_no_update BEFORE UPDATE ON dataset_version_items
BEGIN
    SELECT RAISE(ABORT, 'dataset versions are immutable: import a new version instead');
END;
