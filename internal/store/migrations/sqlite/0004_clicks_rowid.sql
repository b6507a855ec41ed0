-- Clicks become a rowid table, appended as they arrive (rows this wide insert and scan
-- faster that way than kept in click-id order), and each user agent is stored once (a few
-- hundred distinct strings stood in millions of rows).
CREATE TABLE user_agents (
    id INTEGER PRIMARY KEY,
    ua TEXT NOT NULL UNIQUE
);
INSERT INTO user_agents (ua) SELECT DISTINCT user_agent FROM clicks;

CREATE TABLE clicks_v2 (
    id           INTEGER PRIMARY KEY,
    click_id     TEXT NOT NULL UNIQUE,
    ts           INTEGER NOT NULL,
    affiliate_id TEXT NOT NULL,
    sub_id       TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    ua_id        INTEGER NOT NULL REFERENCES user_agents(id),
    referrer     TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    landing_url  TEXT NOT NULL DEFAULT ''
);
INSERT INTO clicks_v2 (click_id, ts, affiliate_id, sub_id, ip, ua_id, referrer, country, landing_url)
    SELECT c.click_id, c.ts, c.affiliate_id, c.sub_id, c.ip, u.id, c.referrer, c.country, c.landing_url
    FROM clicks c JOIN user_agents u ON u.ua = c.user_agent ORDER BY c.ts;
DROP TABLE clicks;
ALTER TABLE clicks_v2 RENAME TO clicks;
CREATE INDEX clicks_by_ts ON clicks (ts);
