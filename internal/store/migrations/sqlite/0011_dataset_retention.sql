-- Dataset retention and consent: a policy per dataset, consent revocations, and purges
-- that delete items for good.
--
-- retention_days: items older than this many days (by created_at) are purged; 0 keeps them.
-- drop_revoked: items whose consent was revoked (by item id, or by the subject their
-- subject_field names) are purged. subject_field names the field of an item that
-- identifies the person it comes from: metadata.NAME, vars.NAME, segment.NAME or source.
ALTER TABLE datasets ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 0 CHECK (retention_days >= 0);
ALTER TABLE datasets ADD COLUMN drop_revoked INTEGER NOT NULL DEFAULT 1;
ALTER TABLE datasets ADD COLUMN subject_field TEXT NOT NULL DEFAULT 'metadata.subject_id';

-- A revocation of consent: for one item (kind 'item', value its id) or for every item,
-- present or future, of one subject (kind 'subject', value the hex SHA-256 of the subject
-- identifier: the revocation list does not keep the identifier itself). Item revocations
-- go with their item when it is purged; subject revocations stay, so that an item of the
-- same person imported later is purged too.
CREATE TABLE dataset_revocations (
    dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('item', 'subject')),
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset_id, kind, value)
) STRICT, WITHOUT ROWID;

-- Versions stay immutable except for purges: a purge deletes items from every version that
-- held them and sets those versions' item_count to what they still hold. Nothing else of
-- a version may change, and its count is always the number of its items.
DROP TRIGGER dataset_versions_no_update;
CREATE TRIGGER dataset_versions_no_update BEFORE UPDATE ON dataset_versions
WHEN NEW.dataset_id IS NOT OLD.dataset_id OR NEW.version IS NOT OLD.version
    OR NEW.message IS NOT OLD.message OR NEW.created_at IS NOT OLD.created_at
    OR NEW.item_count <> (SELECT count(*) FROM dataset_version_items m
        WHERE m.dataset_id = OLD.dataset_id AND m.version = OLD.version)
BEGIN
    SELECT RAISE(ABORT, 'dataset versions are immutable: import a new version instead (a purge only recounts item_count)');
END;
