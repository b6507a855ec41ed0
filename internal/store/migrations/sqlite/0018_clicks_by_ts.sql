-- PostgreSQL looks clicks up by id through click_keys and an index on ts (migration 0018
-- there); SQLite's clicks keep their unique click_id and their ts index.
SELECT 1;
