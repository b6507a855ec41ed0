-- outbox keeps every email until it is delivered; key makes queuing idempotent, so one
-- report for one manager and scan is never sent twice.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    recipients   TEXT NOT NULL,
    subject      TEXT NOT NULL,
    message      BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    sent_at      TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt) WHERE sent_at IS NULL;

-- locks stop two processes running the same job on one database: a lock is held by its
-- owner until it expires (the owner renews it while it works).
CREATE TABLE locks (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
