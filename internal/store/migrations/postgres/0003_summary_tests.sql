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

-- -> and json_each (like every json function that reads an object) decode all the strings
-- of the value and fail on a \u0000 anywhere in it, which Go writes for a NUL (a test
-- description may hold one). So a summary holding one is read with each \u0000 escape
-- swapped for \/ (an escape Go never writes), and every value taken out of it is swapped
-- back. Both expressions match an escape only after an even run of backslashes, so that a
-- backslash written as \\ followed by the text u0000 or / is left as it is.
CREATE FUNCTION pg_temp.plumb_hide_nul(v json) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN strpos(v::text, '\u0000') > 0
                THEN regexp_replace(v::text, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\/', 'g')::json
                ELSE v END
$$;
CREATE FUNCTION pg_temp.plumb_show_nul(v json) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NOT NULL AND strpos(v::text, '\/') > 0
                THEN regexp_replace(v::text, '(?<!\\)((?:\\\\)*)\\/', '\1\\u0000', 'g')::json
                ELSE v END
$$;

INSERT INTO run_tests (run_id, tests)
SELECT id, json_build_object('tests', pg_temp.plumb_show_nul(s -> 'tests'), 'flaky', pg_temp.plumb_show_nul(s -> 'flaky'))
FROM (SELECT id, pg_temp.plumb_hide_nul(summary) AS s FROM runs) r;

-- The summary is rebuilt from its other keys with json (not jsonb) functions, so that each
-- value keeps its text exactly (jsonb would also refuse a \u0000 in a string).
UPDATE runs SET
    tests_count = coalesce(json_array_length(pg_temp.plumb_hide_nul(summary) -> 'tests'), 0),
    flaky_count = coalesce(json_array_length(pg_temp.plumb_hide_nul(summary) -> 'flaky'), 0),
    summary = coalesce((SELECT json_object_agg(e.key, pg_temp.plumb_show_nul(e.value) ORDER BY e.ord)
                        FROM json_each(pg_temp.plumb_hide_nul(summary)) WITH ORDINALITY AS e (key, value, ord)
                        WHERE e.key NOT IN ('tests', 'flaky')), '{}'::json)
WHERE pg_temp.plumb_hide_nul(summary) -> 'tests' IS NOT NULL OR pg_temp.plumb_hide_nul(summary) -> 'flaky' IS NOT NULL;
