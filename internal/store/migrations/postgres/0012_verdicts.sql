-- Per-event verdicts (issue 15). A click's own reason codes and verdict live in its row
-- (empty on clicks stored before); a conversion's verdict, with its reasons and their
-- numbers, lives in conversion_verdicts and is replaced when detect judges it again.
ALTER TABLE clicks ADD COLUMN verdict TEXT NOT NULL DEFAULT '';
ALTER TABLE clicks ADD COLUMN codes TEXT NOT NULL DEFAULT '';

CREATE TABLE conversion_verdicts (
    conversion_id TEXT PRIMARY KEY REFERENCES conversions(conversion_id),
    ts            BIGINT NOT NULL,              -- the conversion's, Unix ms
    click_ip      TEXT NOT NULL DEFAULT '',     -- its click's address, for REPEAT_IP
    verdict       TEXT NOT NULL,                -- ok, review, reject
    codes         TEXT NOT NULL DEFAULT '',     -- comma-separated reason codes
    reasons       TEXT NOT NULL DEFAULT '[]',   -- JSON: [{code, detail, numbers}]
    judged_at     TEXT NOT NULL
);
CREATE INDEX conversion_verdicts_by_ip ON conversion_verdicts (click_ip, ts);
CREATE INDEX conversion_verdicts_by_verdict ON conversion_verdicts (verdict, ts);
CREATE INDEX conversions_by_order ON conversions (order_id);
