-- Runs outside a transaction (see metadata.toml). Wait at most 5 s for each lock; no
-- statement timeout: building an index on a large table takes as long as it takes, and
-- CONCURRENTLY keeps reads and writes going meanwhile.
-- squawk-ignore-file require-statement-timeout
SET lock_timeout = '5s';
-- A failed CONCURRENTLY build leaves an INVALID index behind; each is dropped first so a
-- rerun builds a valid one instead of skipping it (hence no IF NOT EXISTS below).

-- A book's reviews in id order (the review pages): an index range scan that stops at
-- the page's end, instead of fetching and sorting all of the book's reviews.
DROP INDEX CONCURRENTLY IF EXISTS review_book_id_id_idx;
-- squawk-ignore prefer-robust-stmts
CREATE INDEX CONCURRENTLY review_book_id_id_idx ON review (book_id, id);

-- GET /book?author=…, in id order.
DROP INDEX CONCURRENTLY IF EXISTS book_author_id_idx;
-- squawk-ignore prefer-robust-stmts
CREATE INDEX CONCURRENTLY book_author_id_idx ON book (author, id);

-- GET /book?title=… (a prefix): pattern ops so LIKE 'prefix%' uses the index whatever
-- the database's collation.
DROP INDEX CONCURRENTLY IF EXISTS book_title_prefix_idx;
-- squawk-ignore prefer-robust-stmts
CREATE INDEX CONCURRENTLY book_title_prefix_idx ON book (title varchar_pattern_ops);
RESET lock_timeout;
