-- Each run's results counted by prompt, provider and segment, written when the run is saved:
-- the run page's per-model table, the cost-quality view and the case table's totals read
-- these few rows instead of aggregating a run's results on every request (0.5-2 s on a run
-- of 100,000 results).
CREATE TABLE result_groups (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    prompt     TEXT NOT NULL,
    provider   TEXT NOT NULL,
    segment    TEXT NOT NULL,
    samples    INTEGER NOT NULL,
    passed     INTEGER NOT NULL,
    errors     INTEGER NOT NULL, -- results whose call or an assertion errored (has_error)
    cost       REAL NOT NULL,    -- summed
    latency_ms REAL NOT NULL,    -- summed
    tokens     INTEGER NOT NULL, -- summed
    PRIMARY KEY (run_id, prompt, provider, segment)
) STRICT, WITHOUT ROWID;

INSERT INTO result_groups (run_id, prompt, provider, segment, samples, passed, errors, cost, latency_ms, tokens)
SELECT run_id, prompt, provider, segment, COUNT(*), SUM(passed), SUM(has_error), SUM(cost), SUM(latency_ms), SUM(tokens)
FROM results GROUP BY run_id, prompt, provider, segment;
