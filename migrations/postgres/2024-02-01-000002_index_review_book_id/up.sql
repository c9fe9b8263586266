-- Runs outside a transaction (see metadata.toml). Wait at most 5 s for each lock; no
-- statement timeout: building the index on a large table takes as long as it takes, and
-- CONCURRENTLY keeps reads and writes going meanwhile.
-- squawk-ignore-file require-statement-timeout
SET lock_timeout = '5s';
-- A failed CONCURRENTLY build leaves an INVALID index behind; drop it so a rerun
-- builds a valid one instead of skipping it (hence no IF NOT EXISTS below).
DROP INDEX CONCURRENTLY IF EXISTS review_book_id_idx;
-- squawk-ignore prefer-robust-stmts
CREATE INDEX CONCURRENTLY review_book_id_idx ON review (book_id);
RESET lock_timeout;
