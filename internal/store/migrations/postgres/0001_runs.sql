-- Runs and their results.
--
-- The JSON columns (runs.run, runs.summary, results.data) hold the exact report; the other
-- columns are copies of the fields that lists, filters and cursor pagination need, so that
-- a page of a 100,000-result run is an index range scan that never decodes JSON. They are
-- json, not jsonb: json keeps the text as written and accepts \u0000, which model output
-- may contain and jsonb rejects.

CREATE TABLE runs (
    id           text PRIMARY KEY,
    suite        text NOT NULL,
    status       text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    config_hash  text NOT NULL,
    run          json NOT NULL, -- the report's "run" object, provenance included
    summary      json NOT NULL, -- the report's "summary" object
    cases        integer NOT NULL,
    passed       integer NOT NULL,
    failed       integer NOT NULL,
    errors       integer NOT NULL,
    pass_rate    double precision NOT NULL,
    gates_passed integer NOT NULL,
    gates_total  integer NOT NULL
);

CREATE INDEX runs_by_started ON runs (started_at, id);
CREATE INDEX runs_by_suite ON runs (suite, started_at, id);
CREATE INDEX runs_by_status ON runs (status, started_at, id);

CREATE TABLE results (
    run_id     text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx        integer NOT NULL, -- position in the report's results, from 0
    test_index integer NOT NULL,
    prompt     text NOT NULL,
    provider   text NOT NULL,
    repeat     integer NOT NULL,
    segment    text NOT NULL,
    passed     boolean NOT NULL,
    has_error  boolean NOT NULL, -- the call or an assertion could not be evaluated
    score      double precision NOT NULL,
    latency_ms double precision NOT NULL,
    cost       double precision NOT NULL,
    tokens     integer NOT NULL, -- total tokens
    data       json NOT NULL,    -- the result as JSON
    PRIMARY KEY (run_id, idx)
);

-- The filters of a run's results that the server pages through; each index ends in idx so
-- that a page is a range scan after a cursor (WHERE run_id = ? AND ... AND idx > ? ORDER BY
-- idx). Failures and errors are a minority, so they get partial indexes, which the planner
-- uses when the query repeats the predicate exactly (NOT passed; has_error). Prompt has
-- no index: a run has few prompts, so a scan in idx order fills a page quickly.
CREATE INDEX results_failed ON results (run_id, idx) WHERE NOT passed;
CREATE INDEX results_errored ON results (run_id, idx) WHERE has_error;
CREATE INDEX results_by_test ON results (run_id, test_index, idx);
CREATE INDEX results_by_provider ON results (run_id, provider, idx);
CREATE INDEX results_by_segment ON results (run_id, segment, idx);
