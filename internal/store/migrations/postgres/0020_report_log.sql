-- report_log remembers when each report ("all", or a manager's) was last written: the
-- next one lists as new and as fixed what changed since then.
CREATE TABLE report_log (
    name       TEXT PRIMARY KEY,
    written_at TEXT NOT NULL
);
