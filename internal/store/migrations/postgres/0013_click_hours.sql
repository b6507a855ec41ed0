-- PostgreSQL keeps no click_hours table: EachClickHour counts the clicks with a GROUP BY
-- (the number keeps the two dialects' migrations in step).
SELECT 1;
