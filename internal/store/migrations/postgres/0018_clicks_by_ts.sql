-- A click is looked up by id through click_keys, which holds its time: the clicks of that
-- time's day are then found by an index on ts (a BIGINT B-tree, filled mostly in time order,
-- far cheaper to keep up at ingest than the TEXT B-tree on click_id it replaces, which
-- duplicated what click_keys already holds).
CREATE INDEX clicks_by_ts ON clicks (ts);
DROP INDEX clicks_by_click_id;
