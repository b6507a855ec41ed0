-- PostgreSQL keeps click_hours from this migration on; SQLite has kept it since 0013.
SELECT 1;
