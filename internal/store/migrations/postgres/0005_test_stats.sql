-- The summary's per-test rows become rows: one per report.TestStat of summary.tests and
-- summary.flaky, in report order, instead of one JSON value per run (run_tests, 0003). A run
-- of 100,000 results has ~50,000 of them (~10 MB), which every page of them decoded whole;
-- a page is now a range scan of the primary key after its cursor, like a page of results.
-- data is json, not jsonb, as in 0001: the text as written, \u0000 included.
CREATE TABLE test_stats (
    run_id   text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    flaky    boolean NOT NULL, -- false: a row of summary.tests; true: of summary.flaky
    position integer NOT NULL, -- position in that list, from 0
    data     json NOT NULL,    -- the report.TestStat as JSON
    PRIMARY KEY (run_id, flaky, position)
);

-- json_array_elements gives each element's text as stored, WITH ORDINALITY numbering them
-- from 1. A list that 0003 found missing is a JSON null there, and one the store found
-- empty has no key (SQL NULL): the type check keeps both out.
--
-- -> (like every json function that reads an object) decodes all the strings of the value
-- and fails on a \u0000 anywhere in it, which Go writes for a NUL (a test description may
-- hold one); json_array_elements decodes none. So a value holding one has each \u0000
-- escape swapped for \/ first, an escape Go never writes, and swapped back in each element.
-- Both expressions match an escape only after an even run of backslashes, so that a
-- backslash written as \\ followed by the text u0000 or / is left as it is.
INSERT INTO test_stats (run_id, flaky, position, data)
SELECT t.run_id, l.flaky, e.ord - 1,
       CASE WHEN t.nul THEN regexp_replace(e.value::text, '(?<!\\)((?:\\\\)*)\\/', '\1\\u0000', 'g')::json
            ELSE e.value END
FROM (SELECT run_id, nul,
             CASE WHEN nul THEN regexp_replace(tests::text, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\/', 'g')::json
                  ELSE tests END AS tests
      FROM (SELECT run_id, tests, strpos(tests::text, '\u0000') > 0 AS nul FROM run_tests) r) t
CROSS JOIN LATERAL (VALUES (false, t.tests -> 'tests'), (true, t.tests -> 'flaky')) AS l (flaky, list)
CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(l.list) = 'array' THEN l.list END)
    WITH ORDINALITY AS e (value, ord);

DROP TABLE run_tests;
