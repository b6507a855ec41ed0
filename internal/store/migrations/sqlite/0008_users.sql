-- Dashboard accounts (affwatch users), their server-side sessions and personal API tokens.
-- Sessions and tokens are kept as the SHA-256 of their secret, never the secret itself.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,               -- admin, manager, viewer
    manager_email TEXT NOT NULL DEFAULT '',    -- a manager's affiliates[].manager
    password_hash TEXT NOT NULL,               -- argon2id, PHC string
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,               -- SHA-256 of the cookie's secret
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,           -- SHA-256 of the token
    created_at TEXT NOT NULL,
    last_used  TEXT,
    revoked_at TEXT
);

-- The violation list's orders, each ending with the fingerprint so a keyset cursor is
-- exact; a history is read by fingerprint.
CREATE INDEX violations_by_severity ON violations (severity, fingerprint);
CREATE INDEX violations_by_last_seen ON violations (last_seen, fingerprint);
CREATE INDEX violations_by_first_seen ON violations (first_seen, fingerprint);
CREATE INDEX violations_by_affiliate ON violations (affiliate_id, severity, fingerprint);
CREATE INDEX violations_by_rule ON violations (rule_id, severity, fingerprint);
CREATE INDEX IF NOT EXISTS violation_events_by_fingerprint ON violation_events (fingerprint, id);
CREATE INDEX pages_by_scan ON pages (scan_id, fetch_status);
