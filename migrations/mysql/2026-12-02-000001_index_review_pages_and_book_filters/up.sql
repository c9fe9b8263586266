-- migrations/postgres/2026-12-02-000001 on MySQL and MariaDB. InnoDB builds a secondary
-- index online (ALGORITHM=INPLACE, LOCK=NONE): reads and writes go on meanwhile; a build
-- that fails leaves nothing behind, so a rerun starts clean.

-- A book's reviews in id order (the review pages). InnoDB appends the primary key to every
-- secondary index, but naming id keeps the index PostgreSQL's.
CREATE INDEX review_book_id_id_idx ON review (book_id, id) ALGORITHM = INPLACE LOCK = NONE;

-- GET /book?author=…, in id order.
CREATE INDEX book_author_id_idx ON book (author, id) ALGORITHM = INPLACE LOCK = NONE;

-- GET /book?title=… (a prefix): with the binary collation, LIKE 'prefix%' uses the index.
CREATE INDEX book_title_prefix_idx ON book (title) ALGORITHM = INPLACE LOCK = NONE;
