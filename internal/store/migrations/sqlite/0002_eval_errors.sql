-- Rules that failed at run time on a page, and why: their violations on that page were
-- neither found nor resolved by the scan.
ALTER TABLE pages ADD COLUMN eval_errors TEXT NOT NULL DEFAULT '';
