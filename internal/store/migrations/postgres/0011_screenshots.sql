-- Screenshots of rendered pages (PNG, full width, at most 8,000 px tall), each distinct
-- image once, keyed by its SHA-256 like the HTML snapshots beside them; a page names its
-- own (NULL for a static page). Violations' evidence carries the same hash and the
-- offending element's box in it.
CREATE TABLE screenshots (
    sha256 TEXT PRIMARY KEY,
    width  INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size   BIGINT NOT NULL,
    png    BYTEA NOT NULL
);
ALTER TABLE pages ADD COLUMN screenshot_sha256 TEXT REFERENCES screenshots(sha256);
