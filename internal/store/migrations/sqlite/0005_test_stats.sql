-- The summary's per-test rows become rows: one per report.TestStat of summary.tests and
-- summary.flaky, in report order, instead of one JSON value per run (run_tests, 0003). A run
-- of 100,000 results has ~50,000 of them (~10 MB), which every page of them decoded whole;
-- a page is now a range scan of the primary key after its cursor, like a page of results.
--
-- WITHOUT ROWID: the rows are small (~200 bytes) and always read by run, list and position,
-- so they are kept in primary key order rather than beside a separate index of it.
CREATE TABLE test_stats (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    flaky    INTEGER NOT NULL, -- 0: a row of summary.tests; 1: of summary.flaky
    position INTEGER NOT NULL, -- position in that list, from 0
    data     TEXT NOT NULL,    -- the report.TestStat as JSON
    PRIMARY KEY (run_id, flaky, position)
) STRICT, WITHOUT ROWID;

-- json_each gives an array's elements with their position (key, from 0) and their JSON text
-- (value). A list that 0003 found missing is a JSON null there, and one the store found
-- empty has no key: the type check keeps both from becoming rows.
INSERT INTO test_stats (run_id, flaky, position, data)
SELECT t.run_id, 0, e.key, e.value
FROM run_tests t, json_each(t.tests, '$.tests') e
WHERE json_type(t.tests, '$.tests') = 'array';

INSERT INTO test_stats (run_id, flaky, position, data)
SELECT t.run_id, 1, e.key, e.value
FROM run_tests t, json_each(t.tests, '$.flaky') e
WHERE json_type(t.tests, '$.flaky') = 'array';

DROP TABLE run_tests;
