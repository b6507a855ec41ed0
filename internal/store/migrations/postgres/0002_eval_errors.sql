-- Rules that failed at run time on a page, and why.
ALTER TABLE pages ADD COLUMN eval_errors TEXT NOT NULL DEFAULT '';
