-- Placeholder for the migration another branch adds as 0011, so that this branch's 0012 runs on its
-- own (versions must have no gaps). Delete this file when merging that branch.
SELECT 1;
