-- The summary's per-test rows (summary.tests, summary.flaky) move out of runs.summary into a
-- table of their own, with their counts in runs: a run of 100,000 results has ~50,000 of them
-- (~10 MB), which the run page decoded on every request although it shows none of them.
-- GetRun puts them back, so the report round-trips as before.
ALTER TABLE runs
    ADD COLUMN tests_count integer NOT NULL DEFAULT 0,
    ADD COLUMN flaky_count integer NOT NULL DEFAULT 0;

CREATE TABLE run_tests (
    run_id text PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    tests  json NOT NULL -- {"tests": [...], "flaky": [...]}, keys omitted when empty
);

INSERT INTO run_tests (run_id, tests)
SELECT id, json_build_object('tests', summary -> 'tests', 'flaky', summary -> 'flaky')
FROM runs;

-- The summary is rebuilt from its other keys with json (not jsonb) functions, so that each
-- value keeps its text exactly (jsonb would also refuse a \u0000 in a string).
UPDATE runs SET
    tests_count = coalesce(json_array_length(summary -> 'tests'), 0),
    flaky_count = coalesce(json_array_length(summary -> 'flaky'), 0),
    summary = coalesce((SELECT json_object_agg(e.key, e.value ORDER BY e.ord)
                        FROM json_each(summary) WITH ORDINALITY AS e (key, value, ord)
                        WHERE e.key NOT IN ('tests', 'flaky')), '{}'::json)
WHERE summary -> 'tests' IS NOT NULL OR summary -> 'flaky' IS NOT NULL;
