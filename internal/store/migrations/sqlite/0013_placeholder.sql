-- Placeholder for migration 0013, which another branch adds: versions must run without
-- gaps, so this branch (queues2, 0014) carries an empty step. Delete this file when the
-- branches are merged; the real 0013 takes its place.
SELECT 1;
