-- migrations/postgres/2026-12-02-000000 on MySQL and MariaDB: review.body beside
-- review.review, the review statistics kept on write, and the store for idempotent creates.
-- MySQL's triggers fire for one event each and run as their definer (the migrating user):
-- the app user reads book_review_stats but cannot write it; only these triggers do. Each
-- trigger body is a single statement, so no delimiter games are needed.
-- With binary logging on (Aurora MySQL), creating a trigger needs
-- log_bin_trust_function_creators = 1 in the cluster's parameter group.

-- Online (INSTANT): a nullable column without a default copies nothing.
ALTER TABLE review ADD COLUMN body varchar(500);

-- Whichever column a writer sets, the other follows: versions up to 2.0.0 write
-- review.review, 2.1.0 on write review.body.
CREATE TRIGGER review_sync_body_insert BEFORE INSERT ON review FOR EACH ROW
    SET NEW.body = COALESCE(NEW.body, NEW.review), NEW.review = NEW.body;
CREATE TRIGGER review_sync_body_update BEFORE UPDATE ON review FOR EACH ROW
    SET NEW.body = IF(NEW.body <=> OLD.body AND NOT (NEW.review <=> OLD.review), NEW.review, NEW.body),
        NEW.review = NEW.body;

UPDATE review SET body = review WHERE body IS NULL AND review IS NOT NULL;

-- How a book's reviews add up, one row per reviewed book, so GET /book/{id} reads one
-- row instead of aggregating every review of the book.
CREATE TABLE book_review_stats (
    book_id int NOT NULL PRIMARY KEY,
    review_count bigint NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rate_sum bigint NOT NULL DEFAULT 0 CHECK (rate_sum >= 0),
    CONSTRAINT book_review_stats_book_id_fkey FOREIGN KEY (book_id) REFERENCES book (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Per row: MySQL has no statement triggers. InnoDB updates a row in place (its undo log
-- holds the old version), so many reviews of one book in one statement do not build the
-- chain of row versions that made PostgreSQL's row trigger crawl
-- (2026-12-03-000001_review_stats_per_statement).
CREATE TRIGGER review_stats_insert AFTER INSERT ON review FOR EACH ROW
    INSERT INTO book_review_stats (book_id, review_count, rate_sum) VALUES (NEW.book_id, 1, NEW.rate)
    ON DUPLICATE KEY UPDATE review_count = review_count + 1, rate_sum = rate_sum + NEW.rate;
CREATE TRIGGER review_stats_delete AFTER DELETE ON review FOR EACH ROW
    UPDATE book_review_stats SET review_count = review_count - 1, rate_sum = rate_sum - OLD.rate
    WHERE book_id = OLD.book_id;
-- An update is the old row removed and the new one added, in one statement: the old book's
-- row exists (the review was counted), so its line only ever updates.
CREATE TRIGGER review_stats_update AFTER UPDATE ON review FOR EACH ROW
    INSERT INTO book_review_stats (book_id, review_count, rate_sum)
    VALUES (OLD.book_id, 0, 0), (NEW.book_id, 1, NEW.rate)
    ON DUPLICATE KEY UPDATE
        review_count = review_count + IF(VALUES(review_count) = 0, -1, 1),
        rate_sum = rate_sum + IF(VALUES(review_count) = 0, -OLD.rate, NEW.rate);

INSERT INTO book_review_stats (book_id, review_count, rate_sum)
SELECT book_id, count(*), sum(rate) FROM review GROUP BY book_id
ON DUPLICATE KEY UPDATE review_count = VALUES(review_count), rate_sum = VALUES(rate_sum);

-- Idempotent creates: the key a client sent with a POST or PUT, a hash of its request and
-- the response it got, written in the same transaction as the row it created. `key` is a
-- reserved word in MySQL: diesel quotes it; hand-written SQL writes `key`.
CREATE TABLE idempotency_key (
    scope varchar(64) NOT NULL CHECK (char_length(scope) BETWEEN 1 AND 64),
    `key` varchar(255) NOT NULL CHECK (char_length(`key`) BETWEEN 1 AND 255),
    request_hash varchar(128) NOT NULL CHECK (char_length(request_hash) BETWEEN 1 AND 128),
    status_code int CHECK (status_code BETWEEN 100 AND 599),
    response_body mediumtext,
    resource_id int,
    created_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at datetime(6) NOT NULL,
    PRIMARY KEY (scope, `key`),
    -- The purge deletes by expiry.
    INDEX idempotency_key_expires_at_idx (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
