-- The summary's per-test rows (summary.tests, summary.flaky) move out of runs.summary into a
-- table of their own, with their counts in runs: a run of 100,000 results has ~50,000 of them
-- (~10 MB), which the run page decoded on every request although it shows none of them. They
-- are not a column of runs, so that reading a run row never walks ~10 MB of overflow pages.
-- GetRun puts them back, so the report round-trips as before.
ALTER TABLE runs ADD COLUMN tests_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN flaky_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE run_tests (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    tests  TEXT NOT NULL -- {"tests": [...], "flaky": [...]}, keys omitted when empty
) STRICT;

-- json() keeps the arrays as JSON rather than strings; json_object drops nothing, so a missing
-- key becomes null, which reads back as no rows, as the omitted key did.
INSERT INTO run_tests (run_id, tests)
SELECT id, json_object('tests', json(json_extract(summary, '$.tests')),
                       'flaky', json(json_extract(summary, '$.flaky')))
FROM runs;

UPDATE runs SET
    tests_count = coalesce(json_array_length(summary, '$.tests'), 0),
    flaky_count = coalesce(json_array_length(summary, '$.flaky'), 0),
    summary = json_remove(summary, '$.tests', '$.flaky')
WHERE json_type(summary, '$.tests') IS NOT NULL OR json_type(summary, '$.flaky') IS NOT NULL;
