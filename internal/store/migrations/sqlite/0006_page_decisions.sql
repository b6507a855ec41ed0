-- Decision records: for every page a scan looked at, the policy revision that judged it,
-- the rules evaluated on it (JSON array; NULL when no rule judged it, or the page was
-- stored before this migration) and those that found something there (JSON array). With
-- eval_errors (0002) they answer "was this page checked under rule X as of night N?".
ALTER TABLE pages ADD COLUMN policy_revision TEXT NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN judged_rules TEXT;
ALTER TABLE pages ADD COLUMN violated_rules TEXT NOT NULL DEFAULT '[]';
