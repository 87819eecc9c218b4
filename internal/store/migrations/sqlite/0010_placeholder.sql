-- Placeholder for migration 0010, which another branch adds: versions must run without
-- gaps, so this branch (datasets, 0011) carries an empty step. Delete this file when the
-- branches are merged; the real 0010 takes its place.
SELECT 1;
