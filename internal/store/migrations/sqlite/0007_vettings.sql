-- vettings keeps each vetting of a prospective partner's site (affwatch vet): the verdict
-- and the whole report, so that once the partner is approved its first scans can be
-- compared with what was vetted.
CREATE TABLE vettings (
    id        INTEGER PRIMARY KEY,
    site      TEXT NOT NULL,   -- scheme://host of the vetted site
    program   TEXT NOT NULL,
    verdict   TEXT NOT NULL,
    vetted_at TEXT NOT NULL,
    report    BLOB NOT NULL    -- gzip JSON of the report
);
CREATE INDEX vettings_by_site ON vettings (site, vetted_at);
