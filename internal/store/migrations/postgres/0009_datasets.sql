-- Datasets: items (input vars, expected output, metadata, segment fields, provenance and
-- consent) and immutable, numbered versions, each a set of items. Importing makes a new
-- version: the previous version's items plus the new ones, or the new ones alone (replace).

CREATE TABLE datasets (
    id          text PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (project_id, name)
);

-- id numbers a dataset's items in the order they were added (1, 2, 3, ...), so a version
-- lists its items in import order and pages by keyset on id. content_hash is the hex
-- SHA-256 of the canonical JSON of vars and expected (dataset.ContentHash): an exact
-- duplicate is never stored twice in a dataset. near_hash is the SHA-256 of the normalized
-- text (dataset.NearHash), for near-duplicate reports. vars, metadata and segment are JSON
-- objects kept as json (not jsonb), so that their text reads back exactly as written.
CREATE TABLE dataset_items (
    dataset_id    text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    id            bigint NOT NULL CHECK (id >= 1),
    vars          json NOT NULL,
    expected      text NOT NULL,
    metadata      json NOT NULL,
    segment       json NOT NULL,
    source        text NOT NULL,
    consent       boolean NOT NULL,
    consent_basis text NOT NULL,
    content_hash  text NOT NULL,
    near_hash     text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, id),
    UNIQUE (dataset_id, content_hash)
);

CREATE INDEX dataset_items_by_near ON dataset_items (dataset_id, near_hash);

-- Items and versions are immutable: what a version held, and what an eval run on it read,
-- stays what it was. (Deleting stays possible: the retention and consent purge deletes
-- items for good.)
CREATE FUNCTION dataset_rows_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER dataset_items_no_update BEFORE UPDATE ON dataset_items
    FOR EACH ROW EXECUTE FUNCTION dataset_rows_immutable();

CREATE TABLE dataset_versions (
    dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version    integer NOT NULL CHECK (version >= 1),
    message    text NOT NULL,
    item_count integer NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

CREATE TRIGGER dataset_versions_no_update BEFORE UPDATE ON dataset_versions
    FOR EACH ROW EXECUTE FUNCTION dataset_rows_immutable();

-- The items of each version.
CREATE TABLE dataset_version_items (
    dataset_id text NOT NULL,
    version    integer NOT NULL,
    item_id    bigint NOT NULL,
    PRIMARY KEY (dataset_id, version, item_id),
    FOREIGN KEY (dataset_id, version) REFERENCES dataset_versions (dataset_id, version) ON DELETE CASCADE,
    FOREIGN KEY (dataset_id, item_id) REFERENCES dataset_items (dataset_id, id) ON DELETE CASCADE
);

CREATE TRIGGER dataset_version_items_no_update BEFORE UPDATE ON dataset_version_items
    FOR EACH ROW EXECUTE FUNCTION dataset_rows_immutable();
