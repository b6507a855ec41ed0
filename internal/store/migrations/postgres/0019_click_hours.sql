-- Clicks counted per affiliate and hour, as on SQLite (migration 0013 there): ingest adds
-- the clicks it stores in the same transaction, retention removes the hours of the days it
-- drops, so detection reads the weeks of history as a few rows per affiliate-hour instead
-- of a GROUP BY over every click of those weeks. hour is the click's Unix time in whole
-- hours (floor of ms / 3,600,000); clicks is how many stored clicks fall in it.
CREATE TABLE click_hours (
    affiliate_id TEXT NOT NULL,
    hour         BIGINT NOT NULL,
    clicks       BIGINT NOT NULL,
    PRIMARY KEY (affiliate_id, hour)
);
INSERT INTO click_hours (affiliate_id, hour, clicks)
    SELECT affiliate_id, (ts - ((ts % 3600000) + 3600000) % 3600000) / 3600000, count(*)
    FROM clicks GROUP BY 1, 2;
