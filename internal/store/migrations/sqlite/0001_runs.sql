-- Runs and their results.
--
-- The JSON columns (runs.run, runs.summary, results.data) hold the exact report; the other
-- columns are copies of the fields that lists, filters and cursor pagination need, so that
-- a page of a 100,000-result run is an index range scan that never decodes JSON.

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    suite        TEXT NOT NULL,
    status       TEXT NOT NULL,
    -- UTC, fixed width (2006-01-02T15:04:05.000000000Z), so text order is time order.
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    run          TEXT NOT NULL, -- the report's "run" object, provenance included
    summary      TEXT NOT NULL, -- the report's "summary" object
    cases        INTEGER NOT NULL,
    passed       INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    pass_rate    REAL NOT NULL,
    gates_passed INTEGER NOT NULL,
    gates_total  INTEGER NOT NULL
) STRICT;

CREATE INDEX runs_by_started ON runs (started_at, id);
CREATE INDEX runs_by_suite ON runs (suite, started_at, id);
CREATE INDEX runs_by_status ON runs (status, started_at, id);

CREATE TABLE results (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL, -- position in the report's results, from 0
    test_index INTEGER NOT NULL,
    prompt     TEXT NOT NULL,
    provider   TEXT NOT NULL,
    repeat     INTEGER NOT NULL,
    segment    TEXT NOT NULL,
    passed     INTEGER NOT NULL, -- 0 or 1
    has_error  INTEGER NOT NULL, -- 0 or 1: the call or an assertion could not be evaluated
    score      REAL NOT NULL,
    latency_ms REAL NOT NULL,
    cost       REAL NOT NULL,
    tokens     INTEGER NOT NULL, -- total tokens
    data       TEXT NOT NULL,    -- the result as JSON
    PRIMARY KEY (run_id, idx)
) STRICT;

-- The filters of a run's results that the server pages through; each index ends in idx so
-- that a page is a range scan after a cursor (WHERE run_id = ? AND ... AND idx > ? ORDER BY
-- idx). Failures and errors are a minority, so they get partial indexes, which the planner
-- uses when the query repeats the predicate exactly (passed = 0; has_error = 1). Prompt has
-- no index: a run has few prompts, so a scan in idx order fills a page quickly.
CREATE INDEX results_failed ON results (run_id, idx) WHERE passed = 0;
CREATE INDEX results_errored ON results (run_id, idx) WHERE has_error = 1;
CREATE INDEX results_by_test ON results (run_id, test_index, idx);
CREATE INDEX results_by_provider ON results (run_id, provider, idx);
CREATE INDEX results_by_segment ON results (run_id, segment, idx);
