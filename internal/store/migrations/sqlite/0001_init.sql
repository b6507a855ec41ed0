-- The first schema of the embedded store. Times of scans and violations are RFC 3339 text
-- in UTC (readable in the sqlite3 shell); event times are Unix milliseconds (compact and
-- fast to range over).

CREATE TABLE affiliates (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    program       TEXT NOT NULL DEFAULT '',
    manager_email TEXT NOT NULL DEFAULT '',
    sites         TEXT NOT NULL DEFAULT '[]',  -- JSON array of seed URLs
    network_ids   TEXT NOT NULL DEFAULT '{}',  -- JSON object network -> id
    updated_at    TEXT NOT NULL
);

CREATE TABLE scans (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT,
    status   TEXT NOT NULL,
    error    TEXT NOT NULL DEFAULT ''
);

-- snapshots holds each distinct HTML body once, gzip-compressed, keyed by its SHA-256.
CREATE TABLE snapshots (
    sha256 TEXT PRIMARY KEY,
    size   INTEGER NOT NULL,
    html   BLOB NOT NULL
);

-- pages records every page a scan looked at, fetched or not.
CREATE TABLE pages (
    id             INTEGER PRIMARY KEY,
    scan_id        INTEGER NOT NULL REFERENCES scans(id),
    affiliate_id   TEXT NOT NULL,
    url            TEXT NOT NULL,
    final_url      TEXT NOT NULL DEFAULT '',
    status         INTEGER NOT NULL DEFAULT 0,
    fetch_status   TEXT NOT NULL,
    fetch_error    TEXT NOT NULL DEFAULT '',
    fetched_at     TEXT NOT NULL,
    content_sha256 TEXT REFERENCES snapshots(sha256),
    etag           TEXT NOT NULL DEFAULT '',
    last_modified  TEXT NOT NULL DEFAULT '',
    findings       INTEGER NOT NULL DEFAULT 0,
    doc            BLOB,                           -- gzip JSON of the Page document
    UNIQUE (scan_id, affiliate_id, url)
);
CREATE INDEX pages_by_url ON pages (affiliate_id, url, scan_id);

CREATE TABLE violations (
    fingerprint     TEXT PRIMARY KEY,
    rule_id         TEXT NOT NULL,
    source          TEXT NOT NULL,
    severity        INTEGER NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    remediation     TEXT NOT NULL DEFAULT '',
    advisory        INTEGER NOT NULL DEFAULT 0,
    evidence        TEXT NOT NULL DEFAULT '{}',    -- JSON
    affiliate_id    TEXT NOT NULL,
    program_id      TEXT NOT NULL DEFAULT '',
    url             TEXT NOT NULL DEFAULT '',
    policy_revision TEXT NOT NULL DEFAULT '',
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    first_scan      INTEGER NOT NULL REFERENCES scans(id),
    last_scan       INTEGER NOT NULL REFERENCES scans(id),
    state           TEXT NOT NULL,
    resolved_at     TEXT,
    suppress_reason TEXT NOT NULL DEFAULT '',
    suppressed_by   TEXT NOT NULL DEFAULT '',
    suppress_until  TEXT
);
CREATE INDEX violations_by_page ON violations (affiliate_id, url, source, state);
CREATE INDEX violations_by_state ON violations (state, severity);

-- violation_events is the life of each violation: every change of state, by which scan.
CREATE TABLE violation_events (
    id          INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL REFERENCES violations(fingerprint),
    scan_id     INTEGER REFERENCES scans(id),
    at          TEXT NOT NULL,
    from_state  TEXT NOT NULL DEFAULT '',
    to_state    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX violation_events_by_scan ON violation_events (scan_id, to_state);

CREATE TABLE clicks (
    click_id     TEXT PRIMARY KEY,
    ts           INTEGER NOT NULL,
    affiliate_id TEXT NOT NULL,
    sub_id       TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    referrer     TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    landing_url  TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX clicks_by_ts ON clicks (ts);

CREATE TABLE conversions (
    conversion_id TEXT PRIMARY KEY,
    click_id      TEXT NOT NULL DEFAULT '',
    ts            INTEGER NOT NULL,
    affiliate_id  TEXT NOT NULL,
    order_id      TEXT NOT NULL DEFAULT '',
    amount        REAL NOT NULL DEFAULT 0,
    currency      TEXT NOT NULL DEFAULT '',
    commission    REAL NOT NULL DEFAULT 0,
    status        TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX conversions_by_ts ON conversions (ts);
