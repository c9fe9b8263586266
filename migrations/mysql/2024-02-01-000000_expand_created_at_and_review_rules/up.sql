-- migrations/postgres/2024-02-01-000000 on MySQL and MariaDB. Neither has NOT VALID: a
-- CHECK added to a table is checked against every row at once. So the legacy offenders
-- move to review_quarantine here, before the rules are added, not in the next migration
-- (which on MySQL only makes book_id NOT NULL). No row is lost either way.

-- Online (INSTANT on MySQL 8, MariaDB 10.3+): no table copy. Existing rows all get the time
-- this migration ran; diesel's MySQL sessions are in UTC (time_zone '+00:00').
ALTER TABLE book ADD COLUMN created_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6);
ALTER TABLE review ADD COLUMN created_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6);

-- Legacy reviews that break the new rules are moved here, never deleted. Same column
-- types as review, so every row fits.
CREATE TABLE review_quarantine (
    id int NOT NULL PRIMARY KEY,
    reviewer varchar(100) NOT NULL,
    rate smallint NOT NULL,
    review varchar(500),
    book_id int,
    created_at datetime(6) NOT NULL,
    reason text NOT NULL,
    quarantined_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Each statement commits on its own and a resumed run starts at the one that failed:
-- the copy skips rows already copied, so running it twice moves nothing twice.
INSERT INTO review_quarantine (id, reviewer, rate, review, book_id, created_at, reason)
SELECT r.id, r.reviewer, r.rate, r.review, r.book_id, r.created_at,
       CASE WHEN r.book_id IS NULL THEN 'book_id missing' ELSE 'rate outside 1..5' END
FROM review r
WHERE (r.rate NOT BETWEEN 1 AND 5 OR r.book_id IS NULL)
  AND NOT EXISTS (SELECT 1 FROM review_quarantine q WHERE q.id = r.id);
DELETE FROM review WHERE rate NOT BETWEEN 1 AND 5 OR book_id IS NULL;

ALTER TABLE review ADD CONSTRAINT review_rate_range CHECK (rate BETWEEN 1 AND 5);
ALTER TABLE review ADD CONSTRAINT review_book_id_present CHECK (book_id IS NOT NULL);
