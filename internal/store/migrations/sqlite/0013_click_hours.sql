-- Clicks counted per affiliate and hour (issue 15, 18): kept by AddClicks in the same
-- transaction as the clicks it counts, so a nightly detection reads the weeks of history
-- as a few rows per affiliate-hour instead of every click. hour is the click's Unix time in
-- whole hours (floor of ms / 3,600,000); clicks is how many stored clicks fall in it.
CREATE TABLE click_hours (
    affiliate_id TEXT NOT NULL,
    hour         INTEGER NOT NULL,
    clicks       INTEGER NOT NULL,
    PRIMARY KEY (affiliate_id, hour)
) WITHOUT ROWID;
INSERT INTO click_hours (affiliate_id, hour, clicks)
    SELECT affiliate_id, (ts - ((ts % 3600000) + 3600000) % 3600000) / 3600000, count(*)
    FROM clicks GROUP BY 1, 2;
