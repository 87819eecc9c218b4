-- What comparing two runs needs of each result, kept per run in one value: the keys that
-- pair a sample with the other run's (hashes of its test's description and vars and its
-- repeat, without and with its prompt and provider), its test index, pass/fail and score, in
-- report order (report.PairSample; the layout is in internal/store/pairs.go). Comparing two
-- 100,000-result runs then reads two values of ~2-3 MB instead of 200,000 rows.
--
-- The keys hash the canonical JSON of each result's vars, which SQL cannot compute: the
-- store fills this table for the runs already saved, in Go, in this migration's transaction.
CREATE TABLE run_pairs (
    run_id  text PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    samples bytea NOT NULL
);

-- Hashes do not compress: keep the value out of line without trying to.
ALTER TABLE run_pairs ALTER COLUMN samples SET STORAGE EXTERNAL;
