-- A failed CONCURRENTLY build leaves an INVALID index behind; drop it so a rerun
-- builds a valid one instead of skipping it.
DROP INDEX CONCURRENTLY IF EXISTS review_book_id_idx;
CREATE INDEX CONCURRENTLY review_book_id_idx ON review (book_id);
