-- Contract step of renaming review.review to review.body (the expand step is
-- 2026-12-02-000000_review_body_and_stats): no version still live reads review.review.
DROP TRIGGER review_sync_body_update;
DROP TRIGGER review_sync_body_insert;
-- A contract migration: the runner applies it only once no function pinned below its
-- floor (2.1.0, the first version that reads body) is live. MySQL 8 drops a column
-- INSTANT; MariaDB 10.4+ too.
ALTER TABLE review DROP COLUMN review;
