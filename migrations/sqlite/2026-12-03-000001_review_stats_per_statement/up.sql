-- SQLite has no statement triggers: it keeps 2026-12-02-000000's row triggers (the
-- local default database, written a review at a time). Same version as on PostgreSQL.
SELECT 1;
