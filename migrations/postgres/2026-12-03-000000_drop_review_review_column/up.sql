-- Contract step of renaming review.review to review.body (the expand step is
-- 2026-12-02-000000_review_body_and_stats): no version still live reads review.review.
-- Wait at most 5 s for a lock rather than queueing every other query behind us.
SET LOCAL lock_timeout = '5s';
-- Metadata-only: dropping a column rewrites nothing.
SET LOCAL statement_timeout = '5s';

DROP TRIGGER review_sync_body ON review;
-- squawk-ignore ban-drop-function
DROP FUNCTION review_sync_body();
-- A contract migration: the runner applies it only once no function pinned below its
-- floor (2.1.0, the first version that reads body) is live.
-- squawk-ignore ban-drop-column
ALTER TABLE review DROP COLUMN review;
