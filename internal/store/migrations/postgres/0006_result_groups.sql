-- Each run's results counted by prompt, provider and segment, written when the run is saved:
-- the run page's per-model table, the cost-quality view and the case table's totals read
-- these few rows instead of aggregating a run's results on every request (0.5-2 s on a run
-- of 100,000 results).
CREATE TABLE result_groups (
    run_id     text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    prompt     text NOT NULL,
    provider   text NOT NULL,
    segment    text NOT NULL,
    samples    integer NOT NULL,
    passed     integer NOT NULL,
    errors     integer NOT NULL, -- results whose call or an assertion errored (has_error)
    cost       double precision NOT NULL, -- summed
    latency_ms double precision NOT NULL, -- summed
    tokens     bigint NOT NULL,           -- summed
    PRIMARY KEY (run_id, prompt, provider, segment)
);

INSERT INTO result_groups (run_id, prompt, provider, segment, samples, passed, errors, cost, latency_ms, tokens)
SELECT run_id, prompt, provider, segment, COUNT(*),
       SUM(CASE WHEN passed THEN 1 ELSE 0 END), SUM(CASE WHEN has_error THEN 1 ELSE 0 END),
       SUM(cost), SUM(latency_ms), SUM(tokens)
FROM results GROUP BY run_id, prompt, provider, segment;
