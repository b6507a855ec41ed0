-- PostgreSQL partitions clicks by day (migration 0017 there); SQLite keeps one clicks
-- table, whose index on ts serves detect.retention's DELETE of old days.
SELECT 1;
