-- Clicks are partitioned by UTC day of their time (ts, Unix ms): one table per day, named
-- clicks_pYYYYMMDD, created on demand when a click of a new day is ingested, so that
-- detect.retention drops an old day as a whole table instead of deleting its rows.
-- A partitioned table cannot hold a unique index without its partition key, so a click
-- id's uniqueness (ingest is idempotent by id) lives in click_keys, one row per stored
-- click, deleted with the days retention drops. The user agent is not a foreign key: the
-- store writes only ids it has just read from user_agents, whose rows are never deleted,
-- and the check would cost a lookup per ingested click.
ALTER TABLE clicks RENAME TO clicks_unpartitioned;
ALTER INDEX clicks_by_ts RENAME TO clicks_unpartitioned_by_ts;

CREATE TABLE clicks (
    click_id     TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    affiliate_id TEXT NOT NULL,
    sub_id       TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    ua_id        BIGINT NOT NULL,
    referrer     TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    landing_url  TEXT NOT NULL DEFAULT '',
    verdict      TEXT NOT NULL DEFAULT '',
    codes        TEXT NOT NULL DEFAULT ''
) PARTITION BY RANGE (ts);
CREATE INDEX clicks_by_click_id ON clicks (click_id);

CREATE TABLE click_keys (
    click_id TEXT PRIMARY KEY,
    ts       BIGINT NOT NULL
);

-- The clicks stored before move into their days.
DO $$
DECLARE d BIGINT;
BEGIN
    FOR d IN SELECT DISTINCT ts / 86400000 FROM clicks_unpartitioned LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF clicks FOR VALUES FROM (%s) TO (%s)',
            'clicks_p' || to_char(to_timestamp(d * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD'), d * 86400000, (d + 1) * 86400000);
    END LOOP;
END $$;
INSERT INTO clicks (click_id, ts, affiliate_id, sub_id, ip, ua_id, referrer, country, landing_url, verdict, codes)
    SELECT click_id, ts, affiliate_id, sub_id, ip, ua_id, referrer, country, landing_url, verdict, codes
    FROM clicks_unpartitioned ORDER BY id;
INSERT INTO click_keys (click_id, ts) SELECT click_id, ts FROM clicks_unpartitioned;
DROP TABLE clicks_unpartitioned;
