-- The positions (idx) of each result group's results, delta- and varint-encoded: what
-- comparing two models within a run needs to split its pairing samples, read from one row
-- per side instead of 50,000 result rows (~140 ms a side on a 100,000-result run). Older
-- runs are filled in by this migration's Go step (groupPositions).
ALTER TABLE result_groups ADD COLUMN positions BLOB;
